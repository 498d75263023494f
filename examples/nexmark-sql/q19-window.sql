-- Window top-N in the spirit of Nexmark q19 (the top 10 bids of each auction by price), per
-- 10-second tumbling window: Flink's window top-N, ROW_NUMBER() OVER (PARTITION BY
-- window_start, window_end, auction ORDER BY price DESC) limited in the enclosing WHERE.
-- The suite's q19 ranks over the whole unbounded stream (an updating top-N); the windowed form
-- emits each window's ranking once, when the watermark passes the window's end.
-- `dateTime` is quoted: it is a keyword of the Flink SQL grammar.
CREATE TABLE bid (
  auction BIGINT,
  bidder BIGINT,
  price BIGINT,
  channel VARCHAR,
  url VARCHAR,
  `dateTime` TIMESTAMP(3),
  extra VARCHAR,
  WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'kind' = 'bid', 'events' = '10000000');

CREATE TABLE nexmark_q19 (
  auction BIGINT,
  bidder BIGINT,
  price BIGINT,
  `dateTime` TIMESTAMP(3),
  window_end TIMESTAMP(3),
  rank_number BIGINT
) WITH ('connector' = 'blackhole');

INSERT INTO nexmark_q19
SELECT auction, bidder, price, `dateTime`, window_end, rank_number FROM (
  SELECT auction, bidder, price, `dateTime`, window_start, window_end,
         ROW_NUMBER() OVER (PARTITION BY window_start, window_end, auction ORDER BY price DESC) AS rank_number
  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND)))
WHERE rank_number <= 10;
