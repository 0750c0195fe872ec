import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { normaliseDeviceKey } from '../events/client-id.js';
import type { History } from '../history/history.js';
import { COMMON_ERRORS, ErrorSchema, invalidDeviceKey, Limit, withHistory, type ApiRouteOptions } from './api-common.js';

const Client = Type.String({ minLength: 1, maxLength: 255, description: 'Device id, or client address, or a pseudonym of either (URL-encoded)' });
const Ms = (description: string) => Type.Number({ description: `${description}, epoch ms` });

const DeviceParams = Type.Object({ client: Client });
type DeviceParams = Static<typeof DeviceParams>;
const DevicesQuery = Type.Object({ limit: Type.Optional(Limit) }, { additionalProperties: false });
type DevicesQuery = Static<typeof DevicesQuery>;

const InventorySchema = Type.Object({
  client: Type.String(),
  apps: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      owner: Type.String(),
      owner_country: Type.String(),
      first_seen: Ms('First event'),
      last_seen: Ms('Latest event'),
      count: Type.Integer({ description: 'Events (residual ones not counted)' }),
    }),
    { description: 'Most recently seen first' },
  ),
});

const AddressesSchema = Type.Object({
  client: Type.String({ description: 'The device id (or its pseudonym)' }),
  addresses: Type.Array(
    Type.Object({
      address: Type.String({ description: 'Client address (or its pseudonym)' }),
      first_seen: Ms('First event from it'),
      last_seen: Ms('Latest event from it'),
      count: Type.Integer({ description: 'Queries the events from it stand for' }),
    }),
    { description: 'Most recently used first' },
  ),
});

const DevicesSchema = Type.Object({
  devices: Type.Array(Type.Object({ client: Type.String({ description: 'Device id when known, else the client address (or a pseudonym)' }), last_address: Type.Union([Type.String(), Type.Null()], { description: 'The address it last asked from' }), apps: Type.Integer({ description: 'Apps seen' }), last_seen: Ms('Latest app event') }), {
    description: 'Most recently active first',
  }),
});

/** The per-device app inventory: which apps each phone has been seen using, and from which addresses. */
export async function deviceRoutes(app: FastifyInstance, { history, guards }: ApiRouteOptions): Promise<void> {
  /** A per-device read: 400 for a key that is no device, 404 when the history holds nothing for it. */
  const perDevice = <T extends object>(path: string, summary: string, schema: TSchema, read: (history: History, client: string) => T | null, missing: string) =>
    app.get<{ Params: DeviceParams }>(
      path,
      {
        schema: { tags: ['devices'], summary, params: DeviceParams, response: { 200: schema, 404: ErrorSchema, ...COMMON_ERRORS } },
        onRequest: guards.analyst,
      },
      withHistory<{ Params: DeviceParams }>(history, (history, request, reply) => {
        const client = normaliseDeviceKey(request.params.client);
        if (client === null) return reply.code(400).send(invalidDeviceKey('params/client', request.params.client));
        const found = read(history, client);
        return found === null ? reply.code(404).send({ error: 'unknown_device', message: missing }) : { client, ...found };
      }),
    );
  perDevice(
    '/api/devices/:client/apps',
    "A device's app inventory",
    InventorySchema,
    (history, client) => {
      const apps = history.deviceApps(client);
      return apps.length === 0 ? null : { apps };
    },
    'no app has been seen on this device within the retention period',
  );
  perDevice(
    '/api/devices/:client/addresses',
    'The addresses an identified device asked from over time (VPN sessions, mobile networks)',
    AddressesSchema,
    (history, client) => {
      const addresses = history.addressesOf(client);
      return addresses.length === 0 ? null : { addresses };
    },
    'no event of this device id within the retention period',
  );
  app.get<{ Querystring: DevicesQuery }>(
    '/api/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'Devices with apps in their inventory, most recently active first',
        querystring: DevicesQuery,
        response: { 200: DevicesSchema, ...COMMON_ERRORS },
      },
      onRequest: guards.analyst,
    },
    withHistory<{ Querystring: DevicesQuery }>(history, (history, request) => ({ devices: history.devices(request.query.limit ?? Limit.default) })),
  );
}
