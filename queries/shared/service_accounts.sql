-- Service accounts: marked so on their actions or in the accounts directory.
SELECT DISTINCT actor AS account FROM actions WHERE actor_type = 'service'
UNION
SELECT account FROM accounts WHERE account_type = 'service'
