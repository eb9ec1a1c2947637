-- The DROP statement for a retired day's partition (identifiers cannot be bound parameters).
SELECT format('DROP TABLE %I', $1::text)
