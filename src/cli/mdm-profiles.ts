import { createHash } from 'node:crypto';
import plist, { type PlistObject } from 'plist';

/** How a device reaches Wachtpost: DNS over HTTPS (the device in the URL path) or over TLS (in the SNI). */
export type ProfileProtocol = 'doh' | 'dot';

export interface ProfileRequest {
  /**
   * The device id (one label, already validated), or an MDM variable the MDM fills in per
   * device when it deploys one profile to all (Intune `{{serialnumber}}`, Workspace ONE
   * `{DeviceSerialNumber}`).
   */
  readonly device: string;
  /** The service's name, under which device names sit (`encrypted.server_name`). */
  readonly server: string;
  readonly protocol: ProfileProtocol;
  /** The name shown in the profile (Settings → General → VPN & Device Management). */
  readonly organisation: string;
  /** Addresses of the server, so the device need not resolve it first; may be empty. */
  readonly addresses: readonly string[];
}

/**
 * A name-based UUID (RFC 9562 version 5, SHA-1) in a namespace of our own: the same device
 * and server give the same PayloadUUID every time, so an MDM that pushes a regenerated
 * profile replaces the installed one instead of adding a second.
 */
function stableUuid(name: string): string {
  const hash = createHash('sha1').update('wachtpost mobileconfig\0').update(name).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex').toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `{{name}}` (Intune) or `{Name}` (Workspace ONE): a per-device value the MDM substitutes. */
export function isMdmVariable(text: string): boolean {
  return /^(\{\{[a-z]+\}\}|\{[A-Za-z]+\})$/.test(text);
}

/** The reverse-DNS identifier prefix of a server name (dns.example.nl → nl.example.dns). */
function reverseDns(server: string): string {
  return server.split('.').reverse().join('.');
}

/**
 * An Apple configuration profile (`.mobileconfig`, XML plist) with one
 * `com.apple.dnsSettings.managed` payload (iOS 14+, macOS 11+): DoH with the device in the
 * ServerURL's path, or DoT with the device as the first label of ServerName. Unsigned: the
 * MDM signs what it deploys.
 */
export function appleProfile(request: ProfileRequest): string {
  const { device, server, protocol, organisation, addresses } = request;
  // One profile for all devices keeps one identifier, so the MDM replaces rather than adds.
  const id = isMdmVariable(device) ? `${reverseDns(server)}.wachtpost` : `${reverseDns(server)}.wachtpost.${device}`;
  const dnsSettings: PlistObject =
    protocol === 'doh'
      ? { DNSProtocol: 'HTTPS', ServerURL: `https://${server}/dns-query/${device}` }
      : { DNSProtocol: 'TLS', ServerName: `${device}.${server}` };
  const payload: PlistObject = {
    PayloadType: 'com.apple.dnsSettings.managed',
    PayloadVersion: 1,
    PayloadIdentifier: `${id}.dns`,
    PayloadUUID: stableUuid(`${server} ${device} dns`),
    PayloadDisplayName: 'Wachtpost DNS',
    DNSSettings: addresses.length === 0 ? dnsSettings : { ...dnsSettings, ServerAddresses: [...addresses] },
    // Supervised devices only: the user cannot switch the encrypted resolver off.
    ProhibitDisablement: true,
  };
  return plist.build({
    PayloadContent: [payload],
    PayloadDisplayName: `Wachtpost DNS (${device})`,
    PayloadDescription: `Sends this device's DNS to ${server} over ${protocol === 'doh' ? 'HTTPS' : 'TLS'}, identified as ${device}.`,
    PayloadIdentifier: id,
    PayloadOrganization: organisation,
    PayloadType: 'Configuration',
    PayloadUUID: stableUuid(`${server} ${device} profile`),
    PayloadVersion: 1,
  });
}

/**
 * The Android Management API policy fragment (fully managed devices, Android 10+) that sets
 * Private DNS to the device's own name under the server: Android speaks DoT and sends that
 * name as SNI. Merged into the device's policy by the MDM or an AMAPI `patch`.
 */
export function androidPolicy(request: Pick<ProfileRequest, 'device' | 'server'>): { hostname: string; policy: object } {
  const hostname = `${request.device}.${request.server}`;
  return {
    hostname,
    policy: { deviceConnectivityManagement: { privateDnsSettings: { privateDnsMode: 'PRIVATE_DNS_SPECIFIED_HOST', privateDnsHost: hostname } } },
  };
}
