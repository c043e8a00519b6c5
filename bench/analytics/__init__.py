"""bench/analytics: the analytics run at 1,000,000 customers, and our CLV models beside lifetimes' (see __main__)."""
