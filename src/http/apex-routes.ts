/** Routes on the apex host: the landing page and /health. */
import { Elysia } from "elysia";
import { jsonResponse } from "./json.ts";

export interface HealthReport {
  ok: boolean;
  [component: string]: unknown;
}

export function apexRoutes(deps: { health: () => HealthReport; publicDir: string }) {
  return new Elysia()
    .get("/health", () => {
      const report = deps.health();
      return jsonResponse(report, report.ok ? 200 : 503, { "cache-control": "no-store" });
    })
    .get("/", () => {
      const file = Bun.file(`${deps.publicDir}/index.html`);
      return new Response(file, { headers: { "content-type": "text/html; charset=utf-8" } });
    });
}
