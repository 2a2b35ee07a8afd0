"""Built-in search-space files (data). Installed as the package ``archsearch.search_spaces``."""
