/**
 * The worker's copy of the VPN sessions' address → device mapping, kept by the primary
 * from RADIUS accounting and sent over IPC as changes (and whole, when a worker starts).
 * A lookup is one Map read; a dual-stack socket's IPv4-mapped address is tried as IPv4 too.
 */
export class SessionDevices {
  private readonly devices = new Map<string, string>();

  get size(): number {
    return this.devices.size;
  }

  deviceOf(address: string): string | null {
    const device = this.devices.get(address);
    if (device !== undefined) return device;
    return address.startsWith('::ffff:') ? (this.devices.get(address.slice(7)) ?? null) : null;
  }

  /** Applies changes in order: a device now at an address, or null when the address has none. */
  apply(changes: readonly (readonly [string, string | null])[], whole = false): void {
    if (whole) this.devices.clear();
    for (const [address, device] of changes) {
      if (device === null) this.devices.delete(address);
      else this.devices.set(address, device);
    }
  }
}
