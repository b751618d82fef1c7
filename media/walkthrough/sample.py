"""A sample for DiffTransformer Inspector: it ends in a call to a function defined near its top.

Run "DiffTransformer: Inspect Selection" with nothing selected: the whole file is inspected and the
locked query is its last token, the call. Pick the last layer's heads in the overview: the
retrieved key spans show where each looks, and one of them finds the definition.
"""

import csv


def load_catalogue(path):
    with open(path, newline="") as handle:
        return {row["item"]: float(row["price"]) for row in csv.DictReader(handle)}


def basket_total(prices, basket):
    return sum(prices[item] * count for item, count in basket.items())


def report(prices, basket):
    total = basket_total(prices, basket)
    print(f"{len(basket)} items, {total:.2f} in all")


def main():
    basket = {"apple": 3, "pear": 2}
    table = load_catalogue