import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import { Answer } from '../wire/answer.js';
import { EdeCode, Rcode } from '../wire/constants.js';
import type { DevicePatterns } from '../pipeline/device-id.js';
import type { Swappable } from '../pipeline/swappable.js';
import type { DeviceMap } from './device-map.js';
import type { SessionDevices } from './session-devices.js';
import type { ClientAcl } from './client-acl.js';
import type { RateLimit } from './rate-limit.js';

const REFUSED = Answer.synthetic(Rcode.REFUSED, EdeCode.PROHIBITED, 'client not allowed');
const RATE_TEXT = 'rate limited';
const LIMITED = { refuse: Answer.synthetic(Rcode.REFUSED, EdeCode.OTHER, RATE_TEXT), drop: Answer.drop(Rcode.REFUSED, EdeCode.OTHER, RATE_TEXT) } as const;

/**
 * First link: clients outside the ACL (and, over encrypted DNS, whose device is not
 * admitted either) get REFUSED before any work is done for them, and
 * clients beyond their query rate get REFUSED or, over UDP, nothing.
 */
export class AccessStage extends Stage {
  readonly name = 'access';
  private readonly limited: Answer;

  constructor(
    private readonly acl: ClientAcl,
    readonly rate: RateLimit | null = null,
    action: keyof typeof LIMITED = 'refuse',
    private readonly devices: DevicePatterns | null = null,
    /** Address → device for clients whose transport names none (`identity.static_map`); swapped on reload. */
    readonly deviceMap: Swappable<DeviceMap> | null = null,
    /** Address → device of the VPN sessions RADIUS accounting reports (`identity.radius`). */
    readonly sessions: SessionDevices | null = null,
  ) {
    super();
    this.limited = LIMITED[action];
  }

  /** By address, or (encrypted DNS: phones off the VPN) by the device the client identified. */
  admits(client: string, device: string | null, certified = false): boolean {
    return certified || this.acl.allows(client) || (device !== null && this.devices !== null && this.devices.matches(device));
  }

  resolve(query: Query): Answer | Promise<Answer> {
    if (!this.admits(query.client, query.device, query.deviceCertified)) return REFUSED;
    // After admission: sessions and the map name devices, they admit none. A transport's own
    // identity wins, then the live session at the address, then the static map.
    if (query.device === null && this.sessions !== null) query.device = this.sessions.deviceOf(query.client);
    if (query.device === null && this.deviceMap !== null) query.device = this.deviceMap.current.deviceOf(query.client);
    if (this.rate !== null && !this.rate.admits(query.client)) return this.limited;
    return this.next.resolve(query);
  }
}
