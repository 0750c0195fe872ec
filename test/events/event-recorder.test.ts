import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { EventRecorder } from '../../src/events/event-recorder.js';
import type { EventSink } from '../../src/events/event-sink.js';
import { RepeatFolder } from '../../src/events/repeat-folder.js';
import { ACTION_INDEX } from '../../src/pipeline/action.js';
import { Query, type GroupRef } from '../../src/pipeline/query.js';
import { Swappable } from '../../src/pipeline/swappable.js';
import { Verdict } from '../../src/policy/verdict.js';
import { nameTags } from '../../src/tagging/answer-tags.js';
import { loadDetection } from '../../src/tagging/detection.js';
import { scanResponse, type Answer } from '../../src/wire/answer.js';
import { readRequest } from '../../src/wire/request.js';
import { encodeQuery, encodeResponse, TYPE } from '../support/packets.js';

const detection = loadDetection(loadConfig({ text: '', overrides: { upstream: ['127.0.0.1:1'] } }));
const shared = new Swappable(detection);
// Long enough that the folder's own timer never closes a window during a test: they call sweep.
const WINDOW_MS = 60_000;
const GROUPS: (GroupRef | null)[] = [null, { name: 'inspectie' }, { name: 'recherche' }];
const NAMES = ['api16-normal-c-useast1a.tiktokv.com', 'log.byteoversea.com', 'sf16-ies-music-va.tiktokcdn.com'];

class Collected implements EventSink {
  readonly dropped = 0;
  readonly events: DetectionEvent[] = [];
  publish(event: DetectionEvent): void {
    this.events.push(event);
  }
}

/** A folder that counts the events handed to it, to tell the recorder's shortcut from an event per query. */
class CountingFolder extends RepeatFolder {
  handed = 0;
  override publish(event: DetectionEvent, query: Query | null = null): void {
    this.handed++;
    super.publish(event, query);
  }
}

const folders: RepeatFolder[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) folder.close();
});

function folder(sink: EventSink): RepeatFolder {
  const made = new RepeatFolder(sink, WINDOW_MS);
  folders.push(made);
  return made;
}

interface Asked {
  client?: string;
  device?: string | null;
  type?: number;
  action?: 'block' | 'monitor';
  rcode?: number;
  cached?: boolean;
  group?: GroupRef | null;
}

/** A query for an app's name as the policy stage leaves it: tags and a verdict made for this query alone, as for a block. */
function asked(name: string, { client = '10.64.0.7', device = null, type = TYPE.A, action = 'block', rcode = 0, cached = false, group = null }: Asked = {}): { query: Query; answer: Answer } {
  const query = new Query();
  readRequest(encodeQuery(name, type, { id: 9 }), query);
  query.client = client;
  query.device = device;
  query.receivedAt = performance.now();
  query.cacheAge = cached ? 5 : -1;
  query.group = group;
  const app = detection.catalogue.index.matchName(name)!.app;
  query.tags = nameTags(app, name, detection.watchlist);
  query.verdict = new Verdict(action, `app:${app.id}`, null);
  const response = encodeResponse(9, name, type, rcode === 0 ? [{ name, type: TYPE.A, ttl: 60, address: '192.0.2.1' }] : [], { rcode });
  return { query, answer: scanResponse(response, 9, query.question, query.questionLength, 1232).answer! };
}

/** Every field but the timing ones, which describe the last query of a fold. */
const untimed = (events: DetectionEvent[]): object[] => events.map(({ ts: _ts, latency_ms: _latency, ...rest }) => rest);

describe('EventRecorder with a repeat folder', () => {
  it("counts a device's repeats into the open fold without making an event for each, and the fold's event is the last query's", () => {
    const sink = new Collected();
    const folding = new CountingFolder(sink, WINDOW_MS);
    folders.push(folding);
    const counted: [string, number][] = [];
    const recorder = new EventRecorder(shared, folding, 'test', false, { count: (app, action) => counted.push([app.id, action]) });
    const first = asked(NAMES[0]!);
    recorder.answered(first.query, first.answer);
    for (let i = 0; i < 9; i++) {
      const repeat = asked(NAMES[0]!, { cached: i === 8 });
      recorder.answered(repeat.query, repeat.answer);
    }
    expect(sink.events).toHaveLength(1);
    expect(folding.handed).toBe(1);
    expect(folding.folded).toBe(9);
    expect(recorder.recorded).toBe(10);
    expect(counted).toEqual(Array.from({ length: 10 }, () => ['tiktok', ACTION_INDEX.block]));
    folding.sweep(performance.now() + WINDOW_MS);
    expect(sink.events).toHaveLength(2);
    const [published, folded] = sink.events;
    expect(folded).not.toBe(published);
    expect(folded).toMatchObject({ qname: NAMES[0], action: 'block', rule: 'app:tiktok', count: 9, cached: true });
    expect(published).toMatchObject({ count: 1, cached: false });
    expect(folded!.ts).toBeGreaterThanOrEqual(published!.ts);
  });

  it('folds exactly as an event made for every query would, over clients, devices, groups, types, verdicts and rcodes', () => {
    // The same queries through a folder the recorder cannot see as one (every query makes an event) and through one it can.
    const everyEvent = new Collected();
    const shortcut = new Collected();
    const plain = folder(everyEvent);
    const seenAsSink: EventSink = { publish: (event) => plain.publish(event), dropped: 0 };
    const slow = new EventRecorder(shared, seenAsSink, 'test', false);
    const fast = new EventRecorder(shared, folder(shortcut), 'test', false);
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 3000; i++) {
      const options: Asked = {
        client: ['10.64.0.7', '10.64.0.8'][next(2)]!,
        device: [null, 'phone-1'][next(2)]!,
        type: next(4) === 0 ? TYPE.AAAA : TYPE.A,
        action: next(10) === 0 ? 'monitor' : 'block',
        rcode: next(20) === 0 ? 3 : 0,
        cached: next(2) === 0,
        group: GROUPS[next(GROUPS.length)]!,
      };
      const name = NAMES[next(NAMES.length)]!;
      const a = asked(name, options);
      slow.answered(a.query, a.answer);
      const b = asked(name, options);
      fast.answered(b.query, b.answer);
      if (i % 500 === 499) {
        const later = performance.now() + WINDOW_MS * (i / 500 + 1);
        folders.at(-2)!.sweep(later);
        folders.at(-1)!.sweep(later);
      }
    }
    folders.at(-2)!.close();
    folders.at(-1)!.close();
    expect(shortcut.events.length).toBeGreaterThan(100);
    expect(untimed(shortcut.events)).toEqual(untimed(everyEvent.events));
    expect(shortcut.events.reduce((sum, event) => sum + event.count, 0)).toBe(3000);
  });
});
