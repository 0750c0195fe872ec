/**
 * dns2 against the resolver's own wire code on the same messages: parsing a query, taking
 * in an upstream answer, turning a stored answer into a reply, and writing an error reply.
 */
import dns2 from 'dns2';
import { scanResponse } from '../../src/wire/answer.js';
import { ReplyWriter } from '../../src/wire/reply.js';
import { WireRequest, readRequest } from '../../src/wire/request.js';
import { encodeQuery, encodeResponse, TYPE } from '../../test/support/packets.js';
import { runSuite } from '../support/suite.js';

const { Packet } = dns2;

const query = encodeQuery('api16-normal-c-useast1a.tiktokv.com', TYPE.A, { id: 7, edns: { udp: 1232 } });
const response = encodeResponse(7, 'api16-normal-c-useast1a.tiktokv.com', TYPE.A, [
  { name: 'api16-normal-c-useast1a.tiktokv.com', type: TYPE.CNAME, ttl: 300, domain: 'api16-normal-c-useast1a.tiktokv.com.edgesuite.net' },
  { name: 'api16-normal-c-useast1a.tiktokv.com.edgesuite.net', type: TYPE.CNAME, ttl: 300, domain: 'a1234.dscb.akamai.net' },
  { name: 'a1234.dscb.akamai.net', type: TYPE.A, ttl: 20, address: '192.0.2.1' },
  { name: 'a1234.dscb.akamai.net', type: TYPE.A, ttl: 20, address: '192.0.2.2' },
], { edns: true });

const request = new WireRequest();
readRequest(query, request);
const scanned = scanResponse(response, 7, request.question, request.questionLength, 1232).answer!;
const parsed = Packet.parse(response);
const writer = new ReplyWriter({ minTtl: 0, maxTtl: 86400, udpSize: 1232 });

// Both sides must read the same thing, or the race means nothing.
if (Packet.parse(query).questions[0]!.name !== request.qname()) throw new Error('query parsers disagree');
if (parsed.answers.length !== scanned.ttlCount) throw new Error('response parsers disagree');

const scratch = new WireRequest();
let sink = 0;
await runSuite('wire-codec', {
  [`read ${query.length}-byte query: dns2 Packet.parse`]: () => {
    sink += Packet.parse(query).header.id;
  },
  [`read ${query.length}-byte query: readRequest`]: () => {
    sink += readRequest(query, scratch);
  },
  [`take ${response.length}-byte answer: dns2 Packet.parse`]: () => {
    sink += Packet.parse(response).answers.length;
  },
  [`take ${response.length}-byte answer: scanResponse`]: () => {
    sink += scanResponse(response, 7, request.question, request.questionLength, 1232).result;
  },
  'serve stored answer: dns2 toBuffer': () => {
    parsed.header.id = 9;
    sink += parsed.toBuffer().length;
  },
  'serve stored answer: ReplyWriter.write': () => {
    sink += writer.write(request, scanned, 3, -1, 1232).length;
  },
  'error reply: dns2 encode': () => {
    const reply = Packet.createResponseFromRequest(Packet.parse(query));
    reply.header.rcode = 5;
    sink += reply.toBuffer().length;
  },
  'error reply: ReplyWriter.synthetic': () => {
    sink += writer.synthetic(request, 5, 0, 18, null).length;
  },
});
if (sink === 0.5) process.stdout.write('');
