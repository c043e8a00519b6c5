"""bench/imports: a million contact rows imported, then records matched one by one as they arrive."""
