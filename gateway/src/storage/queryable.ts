import type pg from 'pg';

/**
 * Anything that runs a query: the pool, or a client inside a transaction. Store functions take
 * one as their first argument, so a caller decides whether a statement runs on its own or inside
 * the caller's transaction (the batcher's and anchorer's hooks write notices in theirs).
 */
export interface Queryable {
  query: pg.Pool['query'];
}
