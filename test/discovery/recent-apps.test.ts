import { describe, expect, it } from 'vitest';
import { RecentApps } from '../../src/discovery/recent-apps.js';

describe('RecentApps', () => {
  it('tells the app a device asked for last, within the window only', () => {
    const recent = new RecentApps(1000);
    recent.note('192.0.2.1', 'tiktok', 0);
    recent.note('192.0.2.1', 'wechat', 500);
    expect(recent.appWithin('192.0.2.1', 1400)).toBe('wechat');
    expect(recent.appWithin('192.0.2.1', 1501)).toBeNull();
    expect(recent.appWithin('192.0.2.2', 600)).toBeNull();
    expect(recent.size).toBe(1);
  });

  it('forgets devices outside the window first when full, and forgets them for good', () => {
    const recent = new RecentApps(1000, 2);
    recent.note('192.0.2.1', 'tiktok', 0);
    recent.note('192.0.2.2', 'tiktok', 1500);
    expect(recent.appWithin('192.0.2.1', 900)).toBe('tiktok');
    recent.note('192.0.2.3', 'wechat', 1600);
    expect(recent.size).toBe(2);
    expect(recent.appWithin('192.0.2.1', 900)).toBeNull();
    expect(recent.appWithin('192.0.2.2', 1600)).toBe('tiktok');
    expect(recent.appWithin('192.0.2.3', 1600)).toBe('wechat');
  });

  it('forgets the device noted first when every one is recent, even the one looked up last', () => {
    const recent = new RecentApps(1000, 2);
    recent.note('192.0.2.1', 'tiktok', 0);
    recent.note('192.0.2.2', 'wechat', 1);
    // The last look-up is of the device about to be forgotten: it must not outlive its entry.
    expect(recent.appWithin('192.0.2.1', 2)).toBe('tiktok');
    recent.note('192.0.2.3', 'temu', 3);
    expect(recent.appWithin('192.0.2.1', 4)).toBeNull();
    recent.note('192.0.2.1', 'shein', 5);
    expect(recent.size).toBe(2);
    expect(recent.appWithin('192.0.2.1', 6)).toBe('shein');
    expect(recent.appWithin('192.0.2.2', 6)).toBeNull();
  });
});
