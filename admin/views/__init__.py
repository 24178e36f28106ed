"""One blueprint per page family; each view is thin and calls the same functions the CLI does."""
