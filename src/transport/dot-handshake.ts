import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import type { TcpConnection } from './tcp-connection.js';
import { deviceFromCertificate, deviceFromServerName, INVALID_DEVICE } from './device-identity.js';
import type { TlsCredentials } from './tls-credentials.js';

/** Whether a client may ask over an encrypted listener: its address, or the device it named. */
export type EncryptedAdmission = (client: string, device: string | null, certified: boolean) => boolean;

/** What the TLS side of DoT did; read by the metrics layer. */
export class TlsCounters {
  handshakes = 0;
  /** Handshakes that failed (garbage, a protocol or cipher mismatch, a client that gave up). */
  handshakeFailures = 0;
  /** Handshakes resumed from a session ticket. */
  resumed = 0;
  /** Closed after the handshake: an SNI label that is no device id. */
  invalidDevice = 0;
  /** Neither the address nor the device is admitted (closed, or every query REFUSED). */
  notAdmitted = 0;
}

export interface DotSettings {
  /** The name devices sit under in SNI (`<device>.<serverName>`); empty: SNI names no device. */
  serverName: string;
  /** Close a client neither whose address nor device is admitted; otherwise its queries get REFUSED. */
  closeUnadmitted: boolean;
}

/**
 * DNS over TLS (RFC 7858) on a TCP listener: wraps each accepted socket in TLS (1.2 or
 * 1.3, ALPN "dot"), and once the handshake is done, learns the device from the SNI and
 * decides admission. Until then the handshake counts as a message in progress, so the
 * listener's message deadline closes a client that stalls it.
 */
export class DotHandshake {
  readonly protocol = 'dot';
  readonly counters = new TlsCounters();

  constructor(
    private readonly credentials: TlsCredentials,
    private readonly settings: DotSettings,
    private readonly admission: EncryptedAdmission,
  ) {}

  wrap(socket: net.Socket): tls.TLSSocket {
    // With a client CA, a certificate is asked for but not required: without one, the SNI or the address decides.
    const mtls = this.credentials.requestsClientCertificates;
    return new tls.TLSSocket(socket, { isServer: true, secureContext: this.credentials.current, ALPNProtocols: ['dot'], requestCert: mtls, rejectUnauthorized: false });
  }

  attach(stream: net.Socket, connection: TcpConnection): void {
    const socket = stream as tls.TLSSocket;
    const counters = this.counters;
    connection.partialSince = performance.now();
    const failed = (): void => void counters.handshakeFailures++;
    socket.once('error', failed);
    socket.once('secure', () => {
      socket.off('error', failed);
      counters.handshakes++;
      if (socket.isSessionReused()) counters.resumed++;
      connection.partialSince = 0;
      const certified = this.credentials.requestsClientCertificates ? deviceFromCertificate(socket, this.credentials.clientCas) : null;
      const named = deviceFromServerName(socket.servername, this.settings.serverName);
      if (certified === INVALID_DEVICE || named === INVALID_DEVICE) {
        counters.invalidDevice++;
        socket.destroy();
        return;
      }
      // A certificate the device CA signed outranks the name the client chose to send.
      const device = certified ?? named;
      connection.device = device;
      connection.deviceCertified = certified !== null;
      if (!this.admission(connection.client, device, certified !== null)) {
        counters.notAdmitted++;
        if (this.settings.closeUnadmitted) socket.destroy();
      }
    });
  }
}
