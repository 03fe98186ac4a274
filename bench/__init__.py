"""`make bench`: the three services as real processes under load, measured from the outside."""
