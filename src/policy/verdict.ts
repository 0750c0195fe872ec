import { ACTION_INDEX, type Action } from '../pipeline/action.js';

/** What policy decided for one query of one client. */
export class Verdict {
  /** The action's place in ACTIONS, kept so counters index by it without a keyed look-up per query. */
  readonly actionIndex: number;

  constructor(
    readonly action: Action,
    /** The rule that matched ("owner-country:CN", "app:tiktok", "managed-device:ministry"), or null. */
    readonly rule: string | null,
    /** The exemption that let the query through, or null. */
    readonly exemption: string | null,
    /** The query was a device checking whether it may bypass this resolver (a canary name). */
    readonly bypassSignal = false,
  ) {
    this.actionIndex = ACTION_INDEX[action];
  }
}

export const ALLOW = new Verdict('allow', null, null);
