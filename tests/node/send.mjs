// One call through node-soap, as a vendor's Node program makes it (tests/e2e/test_node_soap.py).
//
//   node send.mjs WSDL_URL ENDPOINT KEY.pem CERT.pem 1.1|1.2 < request.json
//
// request.json: {"operation": "IndberetningKontaktJobOgUddOensker" | "Ping", "args": {...}}.
// The signing is node-soap's WSSecurityCert at its default settings: nothing but the key,
// the certificate and the (empty) password. SOAP 1.2 is node-soap's `forceSoap12Headers`.
// Prints one JSON object on stdout:
//   {"result": <the answer as node-soap parsed it>, "request": <the signed XML it sent>}
//   {"fault": <Envelope/Body/Fault as node-soap parsed it>, "status": <HTTP status>,
//    "request": <the signed XML it sent>}
// Anything else (no answer, a script error) exits with status 2 and a message on stderr.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const soap = require('soap');

const SERVICE = 'IndberetningKontaktJobOgUddOenskerService';
const PORTS = {
  '1.1': 'IndberetningKontaktJobOgUddOenskerSoapPort',
  '1.2': 'IndberetningKontaktJobOgUddOenskerSoap12Port',
};

async function main() {
  const [wsdl, endpoint, keyPath, certPath, version] = process.argv.slice(2);
  if (!(version in PORTS)) {
    throw new Error('usage: send.mjs WSDL_URL ENDPOINT KEY.pem CERT.pem 1.1|1.2 < request.json');
  }
  const request = JSON.parse(readFileSync(0, 'utf8'));
  const client = await soap.createClientAsync(wsdl, {
    endpoint,
    forceSoap12Headers: version === '1.2',
  });
  const privateKey = readFileSync(keyPath, 'utf8');
  const publicKey = readFileSync(certPath, 'utf8');
  client.setSecurity(new soap.WSSecurityCert(privateKey, publicKey, ''));
  const operation = client[SERVICE][PORTS[version]][request.operation];
  if (typeof operation !== 'function') {
    throw new Error(`no operation ${request.operation} on the ${version} port`);
  }
  try {
    const result = await new Promise((resolve, reject) => {
      operation(request.args ?? {}, (error, answer) => (error ? reject(error) : resolve(answer)));
    });
    return { result, request: client.lastRequest };
  } catch (error) {
    const fault = error?.root?.Envelope?.Body?.Fault;
    if (!fault) {
      throw error;
    }
    return { fault, status: error.response?.status ?? null, request: client.lastRequest };
  }
}

main().then(
  (output) => process.stdout.write(JSON.stringify(output) + '\n'),
  (error) => {
    process.stderr.write(`send.mjs: ${error?.stack ?? error}\n`);
    process.exit(2);
  },
);
