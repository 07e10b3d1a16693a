"""Measuring the detector: public datasets, accuracy tables, the randomised robustness sweep."""
