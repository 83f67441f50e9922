"""Cohorts the package makes: the flagship study's reconstruction and seeded synthetic cohorts."""
