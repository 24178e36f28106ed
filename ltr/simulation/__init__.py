"""A shopper simulator: synthetic shoppers issue real queries against the search API, look at the
real result pages, and click, add to cart and buy by a known click model. Because the ground truth
is known, it tests click models and learning to rank end to end."""
