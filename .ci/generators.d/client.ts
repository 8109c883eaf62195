// Built by .ci/generators against the types openapi-typescript (default
// options) generates from api/openapi.json, with openapi-fetch. Run with
// node after tsc, it creates a project, an endpoint, sends an event with
// nested data, reads the event's deliveries and clears a field with null.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

// The little of node this needs, without @types/node.
declare const process: { argv: string[]; exit(code: number): never };

type EventInput = components["schemas"]["EventInput"];
type EndpointCreate = components["schemas"]["EndpointCreate"];

export async function run(baseUrl: string, adminKey: string): Promise<void> {
  const admin = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${adminKey}` } });
  const created = await admin.POST("/v1/projects", { body: { name: "Shop", id: "openapi-typescript" } });
  if (!created.data) throw new Error(`create project: ${JSON.stringify(created.error)}`);
  const project = created.data.id;
  const c = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${created.data.api_key}` } });

  // Only url is required: fields with server defaults stay optional.
  const epIn: EndpointCreate = { url: "http://127.0.0.1:9/webhooks", event_types: ["order.*"] };
  const ep = await c.POST("/v1/projects/{project}/endpoints", { params: { path: { project } }, body: epIn });
  if (!ep.data) throw new Error(`create endpoint: ${JSON.stringify(ep.error)}`);
  const up = await c.PATCH("/v1/projects/{project}/endpoints/{id}", {
    params: { path: { project, id: ep.data.id } },
    body: { active_until: null, auth: null, timeout: "5s" },
  });
  if (!up.data || up.data.timeout !== "5s") throw new Error(`update endpoint: ${JSON.stringify(up.error)}`);

  // data is a free-form object, nested values included.
  const event: EventInput = { type: "order.paid", data: { order_id: "o_3", lines: [{ sku: "C", qty: 3 }], paid: true } };
  const sent = await c.POST("/v1/projects/{project}/events", {
    params: { path: { project }, header: { "Idempotency-Key": "order-o_3" } },
    body: event,
  });
  if (!sent.data) throw new Error(`send event: ${JSON.stringify(sent.error)}`);
  const eventId: string = sent.data.id;

  const ds = await c.GET("/v1/projects/{project}/deliveries", {
    params: { path: { project }, query: { event_id: eventId, limit: 10 } },
  });
  if (!ds.data || ds.data.data.length !== 1) throw new Error(`list deliveries: ${JSON.stringify(ds.error)}`);
  const problem = await c.GET("/v1/projects/{project}/endpoints/{id}", { params: { path: { project, id: "ep_none" } } });
  const type: string | undefined = problem.error?.type;
  console.log(`openapi-typescript: event ${eventId}, delivery ${ds.data.data[0].id} ${ds.data.data[0].status}, 404 type ${type}`);
}

const [, , url, key] = process.argv;
if (url && key) {
  run(url, key).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
