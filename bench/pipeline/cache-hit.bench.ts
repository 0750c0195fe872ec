/**
 * The cache-hit path end to end in one process, without sockets: read the question, run
 * the chain (access, canary, policy with the shipped catalogue, cache), write the reply
 * (copy, ID patch, TTL ageing), time it (the answer-latency histogram), record the event and
 * count discovery candidates. Once with detection, policy and events on, once with the bare
 * access → cache chain, so their cost on the hit path shows as a ratio; and once with dnstap
 * on too (CLIENT_QUERY and CLIENT_RESPONSE encoded and copied into a buffer, as the writer
 * does; no socket), so its cost shows beside the same path with it off; and once with
 * RADIUS accounting's session table holding 100,000 VPN addresses, the client's among them,
 * so every query looks its device up and carries it into the event.
 */
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { DiscoveryObserver } from '../../src/discovery/discovery-observer.js';
import { EventHub } from '../../src/events/event-hub.js';
import { EventRecorder } from '../../src/events/event-recorder.js';
import { chain } from '../../src/pipeline/stage.js';
import { Query, type ReplyChannel } from '../../src/pipeline/query.js';
import { buildResolverChain } from '../../src/server/resolver-chain.js';
import { tagAnswer } from '../../src/tagging/tagger.js';
import { Dispatcher } from '../../src/transport/dispatcher.js';
import { DnstapTap } from '../../src/dnstap/dnstap-tap.js';
import { AnswerLatency } from '../../src/metrics/answer-latency.js';
import { Responder, type AnswerObserver, type ReplyObserver } from '../../src/transport/responder.js';
import { scanResponse } from '../../src/wire/answer.js';
import { ReplyWriter } from '../../src/wire/reply.js';
import { readRequest } from '../../src/wire/request.js';
import { encodeQuery, encodeResponse, TYPE } from '../../test/support/packets.js';
import { runSuite } from '../support/suite.js';

const config = loadConfig({ text: 'mode: monitor', overrides: { upstream: ['127.0.0.1:1'] } });
const withSessions = loadConfig({ text: 'mode: monitor', overrides: { upstream: ['127.0.0.1:1'], radiusAcct: '127.0.0.1:1813' } });
const log = pino({ level: 'silent' });
const writer = new ReplyWriter({ minTtl: 0, maxTtl: 86_400, udpSize: 1232 });

let sent = 0;
const channel: ReplyChannel = { protocol: 'udp', send: () => void sent++ };

/** Where the tap's frames go: copied into one buffer, as the Frame Streams writer copies them into its chunk. */
const frames = Buffer.alloc(64 * 1024);
const copyFrame = { write: (payload: Uint8Array) => frames.set(payload, 4) };

function setUp(stagesOn: boolean, dnstap = false, sessions = false): { dispatch: (msg: Buffer) => void; names: Buffer[] } {
  const resolver = buildResolverChain(sessions ? withSessions : config);
  if (sessions) {
    const changes: [string, string][] = [['127.0.0.1', 'phone-0']];
    for (let n = 1; n < 100_000; n++) changes.push([`10.64.${(n >> 8) & 255}.${n & 255}`, `phone-${n}`]);
    resolver.access.sessions!.apply(changes);
  }
  const hub = new EventHub({ capacity: 65_536, firstId: 1, residualWindowMs: 300_000, pseudonymiser: null });
  // As the resolver attaches them; the one client asks an app's names too, so every other
  // name it asks is a discovery candidate (the observer's costliest case).
  const observers: AnswerObserver[] = stagesOn
    ? [new EventRecorder(resolver.detection, hub, 'bench', false), new DiscoveryObserver(resolver.detection, config.discovery.window_ms, () => {})]
    : [];
  const tap = new DnstapTap(copyFrame, { identity: 'bench', version: 'wachtpost bench', messages: ['client_query', 'client_response'] });
  const replyObservers: ReplyObserver[] = dnstap ? [new AnswerLatency(), tap] : [new AnswerLatency()];
  const head = stagesOn ? resolver.head : chain([resolver.stages[0]!, resolver.cache]);
  const dispatcher = new Dispatcher(head, new Responder(writer, log, observers, replyObservers));
  const names: Buffer[] = [];
  // 64 names: one in eight is an app's backend (tagged, monitored, an event each time).
  for (let i = 0; i < 64; i++) {
    const name = i % 8 === 0 ? `api${i}-normal.tiktokv.com` : `host${i}.example.nl`;
    const msg = encodeQuery(name, TYPE.A, { id: i, edns: { udp: 1232 } });
    const response = encodeResponse(i, name, TYPE.A, [{ name, type: TYPE.A, ttl: 3600, address: '192.0.2.1' }], { edns: true });
    const query = new Query();
    readRequest(msg, query);
    const answer = scanResponse(response, i, query.question, query.questionLength, 1232).answer!;
    answer.tags = tagAnswer(query, answer, resolver.detection.current);
    resolver.cache.cache.set(query, answer, Date.now(), 3600);
    names.push(msg);
  }
  const query = new Query();
  query.channel = channel;
  query.client = '127.0.0.1';
  return {
    names,
    dispatch: (msg) => {
      query.reset();
      dispatcher.dispatch(msg, query);
    },
  };
}

const on = setUp(true);
const off = setUp(false);
const tapped = setUp(true, true);
const identified = setUp(true, false, true);
let i = 0;
const before = sent;
on.dispatch(on.names[1]!);
off.dispatch(off.names[1]!);
if (sent !== before + 2) throw new Error('a primed name was not answered from the cache synchronously');

await runSuite('cache-hit', {
  'hit: read, chain, reply, event (tagging + policy + events on)': () => on.dispatch(on.names[i++ & 63]!),
  'hit: read, access, cache, reply (off)': () => off.dispatch(off.names[i++ & 63]!),
  'hit: as the first, with dnstap on (two messages encoded and buffered)': () => tapped.dispatch(tapped.names[i++ & 63]!),
  'hit: as the first, the device looked up among 100,000 VPN sessions': () => identified.dispatch(identified.names[i++ & 63]!),
});
