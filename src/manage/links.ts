/**
 * `DELETE /api/me/links/{provider}`: removes the caller's GitHub or Google link, so that
 * identity no longer signs them in. Linking happens in the browser (POST /auth/link/{provider},
 * src/auth/provider-login/), because it is a round trip through the provider.
 */
import { Elysia, t } from "elysia";
import type { ProviderName } from "../auth/provider-login/identity-link-store.ts";
import { jsonResponse } from "../http/json.ts";
import { callerOf, type ManageDeps } from "./context.ts";
import { ManageError } from "./manage-error.ts";
import { COMMON_ERRORS, PROVIDER } from "./schemas.ts";

const PROVIDERS: readonly ProviderName[] = ["github", "google"];

export function linkRoutes(deps: ManageDeps) {
  return new Elysia().delete(
    "/me/links/:provider",
    ({ request, params }) => {
      const user = callerOf(request);
      // Also for a provider no longer configured: a person can always remove a way in.
      const provider = PROVIDERS.find((name) => name === params.provider);
      if (provider === undefined || !deps.identityLinks.unlink(user.id, provider))
        throw new ManageError(
          404,
          "not_found",
          `no ${params.provider} account is linked to your account`,
        );
      deps.logger.info("sign-in method unlinked", { provider, user_id: user.id });
      return jsonResponse({ unlinked: provider }, 200, { "cache-control": "no-store" });
    },
    {
      params: t.Object({ provider: t.String({ maxLength: 32 }) }),
      detail: {
        summary: "Unlink your GitHub or Google account",
        description: "Afterwards that account no longer signs you in. 404 when none is linked.",
        tags: ["me"],
      },
      response: { 200: t.Object({ unlinked: PROVIDER }), ...COMMON_ERRORS },
    },
  );
}
