"""Catalogue search in the mall: choosing the backend, jobs, reindexing."""
