-- Bids and the top price per auction in 10-second tumbling windows (a window TVF), the
-- counting half of Nexmark q5 and q7: TABLE(TUMBLE(...)) grouped by window_start, window_end.
-- The Nexmark bid stream (the nexmark/nexmark suite's bid view), from Sluice's generator.
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

CREATE TABLE window_counts (
  auction BIGINT,
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  num BIGINT,
  top BIGINT
) WITH ('connector' = 'blackhole');

INSERT INTO window_counts
SELECT auction, window_start, window_end, COUNT(*) AS num, MAX(price) AS top
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))
GROUP BY auction, window_start, window_end;
