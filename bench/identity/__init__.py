"""bench/identity: our identity resolution beside Splink's, on FEBRL4 and on synthetic people (see __main__)."""
