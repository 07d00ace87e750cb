/** Temporal client and worker-connection factories. */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { serviceEnv } from './env';

/** A client for starting, signalling and querying workflows. Close `client.connection` when done. */
export async function createTemporalClient(): Promise<Client> {
  const env = serviceEnv();
  const connection = await Connection.connect({ address: env.temporalAddress });
  return new Client({ connection, namespace: env.temporalNamespace });
}

/** The connection a worker polls through. */
export async function createWorkerConnection(): Promise<NativeConnection> {
  return NativeConnection.connect({ address: serviceEnv().temporalAddress });
}
