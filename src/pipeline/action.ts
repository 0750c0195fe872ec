/**
 * What policy did with one query of one client: the single vocabulary of the policy stage,
 * events, history, counters and the API. 'allow' is also the action of untagged queries.
 */
export const ACTIONS = ['allow', 'monitor', 'block', 'exempt'] as const;
export type Action = (typeof ACTIONS)[number];

/** Position of each action in ACTIONS, for counters kept in typed arrays. */
export const ACTION_INDEX: Readonly<Record<Action, number>> = { allow: 0, monitor: 1, block: 2, exempt: 3 };
