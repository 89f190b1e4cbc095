"""Upstream entries copied verbatim from real recorded responses, for tests."""

# One real /coins/markets entry (fixtures/coingecko_markets_page1.json, 2025-02-09, fetched with
# price_change_percentage=1h,24h,1y, hence the three *_in_currency keys), embedded verbatim.
COINGECKO_ETHEREUM = """{"id":"ethereum","symbol":"eth","name":"Ethereum",
"image":"https://coin-images.coingecko.com/coins/images/279/large/ethereum.png?1696501628",
"current_price":2642.2421635443243,"market_cap":318350857183,"market_cap_rank":2,
"fully_diluted_valuation":318350857183,"total_volume":11773584420,"high_24h":2683.22,
"low_24h":2617.91,"price_change_24h":16.06,"price_change_percentage_24h":0.61165,
"market_cap_change_24h":1808838905,"market_cap_change_percentage_24h":0.57144,
"circulating_supply":120535801.6608646,"total_supply":120535801.6608646,"max_supply":null,
"ath":4878.26,"ath_change_percentage":-45.855,"ath_date":"2021-11-10T14:24:19.604Z",
"atl":0.432979,"atl_change_percentage":609937.67244,"atl_date":"2015-10-20T00:00:00.000Z",
"roi":{"times":35.7711288054569,"currency":"btc","percentage":3577.1128805456897},
"last_updated":"2025-02-09T17:43:58.288Z",
"price_change_percentage_1h_in_currency":-0.5420260912686612,
"price_change_percentage_1y_in_currency":6.3185159208042405,
"price_change_percentage_24h_in_currency":0.6116546287328856}"""

# One real /tickers entry (fixtures/coinpaprika_tickers_real_sample.json), embedded verbatim.
COINPAPRIKA_BITCOIN = """{"id":"btc-bitcoin","name":"Bitcoin","symbol":"BTC","rank":1,
"total_supply":20059050,"max_supply":21000000,"beta_value":0.984304,
"first_data_at":"2010-07-17T00:00:00Z","last_updated":"2026-07-20T15:22:16Z",
"quotes":{"USD":{"price":64898.380483166475,"volume_24h":23477973879.80408,
"volume_24h_change_24h":62.029998779296875,"market_cap":1301800053726,
"market_cap_change_24h":0.5699999928474426,"percent_change_15m":0.23000000417232513,
"percent_change_30m":0.8899999856948853,"percent_change_1h":0.7099999785423279,
"percent_change_6h":1.100000023841858,"percent_change_12h":0.36000001430511475,
"percent_change_24h":0.5699999928474426,"percent_change_7d":4.239999771118164,
"percent_change_30d":0,"percent_change_1y":0,"ath_price":126173.1777846797,
"ath_date":"2025-10-06T19:00:40Z","percent_from_price_ath":-48.57}}}"""
