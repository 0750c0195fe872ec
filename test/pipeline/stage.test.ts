import { describe, expect, it } from 'vitest';
import { DnsError } from '../../src/pipeline/dns-error.js';
import type { Query } from '../../src/pipeline/query.js';
import { chain, Stage } from '../../src/pipeline/stage.js';
import { Swappable } from '../../src/pipeline/swappable.js';
import { Answer } from '../../src/wire/answer.js';
import { EdeCode, Rcode } from '../../src/wire/constants.js';

/** Appends its name to a trail and asks the next stage; the last one answers. */
class Tracer extends Stage {
  constructor(
    readonly name: string,
    private readonly trail: string[],
    private readonly answer: Answer | null = null,
  ) {
    super();
  }

  resolve(query: Query): Answer | Promise<Answer> {
    this.trail.push(this.name);
    return this.answer ?? this.next.resolve(query);
  }
}

describe('chain', () => {
  it('links stages in the order given and returns the first', () => {
    const trail: string[] = [];
    const answer = Answer.synthetic(Rcode.NOERROR);
    const head = chain([new Tracer('a', trail), new Tracer('b', trail), new Tracer('c', trail, answer)]);
    expect(head.resolve({} as Query)).toBe(answer);
    expect(trail).toEqual(['a', 'b', 'c']);
  });

  it('refuses an empty chain', () => {
    expect(() => chain([])).toThrow('at least one stage');
  });
});

describe('DnsError', () => {
  it('carries the rcode, the EDE code and the text clients get, SERVFAIL with EDE 0 by default', () => {
    const plain = new DnsError('something broke');
    expect([plain.rcode, plain.ede, plain.edeText.toString()]).toEqual([Rcode.SERVFAIL, EdeCode.OTHER, 'something broke']);
    const refused = new DnsError('not for you', Rcode.REFUSED, EdeCode.PROHIBITED, Buffer.from('prohibited'));
    expect([refused.rcode, refused.ede, refused.edeText.toString(), refused.message]).toEqual([Rcode.REFUSED, EdeCode.PROHIBITED, 'prohibited', 'not for you']);
  });
});

describe('Swappable', () => {
  it('hands readers who took current earlier the old value after a swap', () => {
    const data = new Swappable({ version: 1 });
    const taken = data.current;
    data.current = { version: 2 };
    expect([taken.version, data.current.version]).toEqual([1, 2]);
  });
});
