"""What the statutes compute: 经济补偿, 赔偿金, 代通知金, 二倍工资, 加班费,
一次性伤残补助金 and the last day to apply.

Each calculator is a pure function from what the resident told us to a
`Computation`: the amount, the formula with the resident's numbers in it, the
articles it rests on and every assumption it made. They never read the index:
`actions/calculators/presentation.py` quotes the articles, so a calculator
can be tested against worked examples without a corpus, and the quote shown
is always the indexed text.
"""
