/**
 * Connected apps (OAuth: Claude.ai and other MCP clients a person allowed). On a wiki's page
 * owners see and revoke everyone's, members their own; on the account page a person sees and
 * revokes their own on every wiki.
 */
import {
  api,
  type Connection,
  type Me,
  type OwnConnection,
  type Result,
  type Wiki,
} from "../api.ts";
import { busy, el, errorSlot, when } from "../dom.ts";
import { appLink, wikiPath } from "../router.ts";

/** What a connection may do, in words: wiki:write includes reading. */
export function accessWords(scopes: string[]): string {
  if (scopes.includes("wiki:write")) return "read and write";
  if (scopes.includes("wiki:read")) return "read";
  return "nothing";
}

function personOf(connection: Connection): string {
  return connection.user.displayName || connection.user.username || "someone";
}

/** The app's name and, quieter, the host it returns to: a name alone can be anything. */
function appCell(connection: Connection): HTMLElement {
  return el(
    "span",
    {},
    el("span", { class: "app-name" }, connection.clientName),
    connection.redirectHost === ""
      ? null
      : el("span", { class: "muted" }, ` (${connection.redirectHost})`),
  );
}

interface TableSpec<T extends Connection> {
  /** Column titles before the shared Access, Connected, Last used and action columns. */
  leading: string[];
  cells(connection: T): (string | Node)[];
  revokeLabel(connection: T): string;
  question(connection: T): string;
  revoke(connection: T): Promise<Result<unknown>>;
}

/**
 * A table of connections with a Revoke button per row; after a revoke `reload` rebuilds it and
 * focus goes to the section heading, so keyboard users are not left on a removed button.
 */
function connectionsTable<T extends Connection>(
  spec: TableSpec<T>,
  section: HTMLElement,
  empty: HTMLElement,
  sectionErrors: ReturnType<typeof errorSlot>,
  reload: () => Promise<Result<T[]>>,
) {
  const body = el("tbody");
  const titles = [...spec.leading, "Access", "Connected", "Last used", ""];
  const table = el(
    "table",
    { class: "connections" },
    el("thead", {}, el("tr", {}, ...titles.map((title) => el("th", { scope: "col" }, title)))),
    body,
  );

  const row = (connection: T): HTMLTableRowElement => {
    const revoke = el("button", { type: "button", class: "danger" }, "Revoke");
    revoke.setAttribute("aria-label", spec.revokeLabel(connection));
    const errors = errorSlot();
    revoke.addEventListener("click", async () => {
      errors.clear();
      if (!window.confirm(spec.question(connection))) return;
      const revoked = await busy(revoke, () => spec.revoke(connection));
      if (!revoked.ok) {
        errors.show(revoked.error.message);
        return;
      }
      const fresh = await reload();
      if (fresh.ok) show(fresh.value);
      else sectionErrors.show(fresh.error.message);
      section.querySelector<HTMLElement>("h2")?.focus();
    });
    const cells = [
      ...spec.cells(connection),
      accessWords(connection.scopes),
      when(connection.createdAt),
      connection.lastUsedAt === null ? "never" : when(connection.lastUsedAt),
      el("span", {}, revoke, errors.element),
    ];
    const tr = el("tr", { "data-connection": connection.id });
    for (const cell of cells) tr.append(el("td", {}, cell));
    return tr;
  };

  const show = (connections: T[]) => {
    sectionErrors.clear();
    empty.hidden = connections.length > 0;
    table.hidden = connections.length === 0;
    body.replaceChildren(...connections.map(row));
  };
  return { element: el("div", { class: "table-scroll" }, table), show };
}

function howToConnect(mcpUrl: string): HTMLElement {
  return el(
    "p",
    { class: "hint" },
    "To connect Claude, paste this wiki's MCP address, ",
    el("code", {}, mcpUrl),
    ", into Claude.ai under Settings → Connectors → Add custom connector, then sign in and choose Allow.",
  );
}

export function connectionsSection(me: Me, wiki: Wiki, loaded: Result<Connection[]>): HTMLElement {
  const owner = wiki.role === "owner";
  const sectionErrors = errorSlot();
  const empty = el(
    "div",
    { class: "empty" },
    el(
      "p",
      {},
      owner
        ? "No apps are connected to this wiki yet."
        : "You have not connected any apps to this wiki.",
    ),
    howToConnect(wiki.urls.mcp),
  );
  const section = el(
    "section",
    { "aria-labelledby": "connections-heading" },
    el("h2", { id: "connections-heading", tabindex: "-1" }, "Connected apps"),
    el(
      "p",
      { class: "hint" },
      owner
        ? "Apps people allowed to use this wiki in their name. Revoking one cuts it off at once."
        : "Apps you allowed to use this wiki in your name. Revoking one cuts it off at once.",
    ),
    sectionErrors.element,
  );
  const table = connectionsTable<Connection>(
    {
      leading: ["App", "Person"],
      cells: (connection) => [
        appCell(connection),
        connection.user.username === me.user.username
          ? `${personOf(connection)} (you)`
          : personOf(connection),
      ],
      revokeLabel: (connection) => `Revoke ${connection.clientName} for ${personOf(connection)}`,
      question: (connection) =>
        `Disconnect ${connection.clientName} for ${personOf(connection)}? It can no longer use ${wiki.name}.`,
      revoke: (connection) => api.revokeConnection(wiki.slug, connection.id),
    },
    section,
    empty,
    sectionErrors,
    () => api.connections(wiki.slug),
  );
  section.append(table.element, empty);
  if (loaded.ok) table.show(loaded.value);
  else {
    table.show([]);
    sectionErrors.show(loaded.error.message);
  }
  return section;
}

export function myConnectionsSection(loaded: Result<OwnConnection[]>): HTMLElement {
  const sectionErrors = errorSlot();
  const empty = el(
    "div",
    { class: "empty" },
    el("p", {}, "You have not connected any apps to your wikis."),
    el(
      "p",
      { class: "hint" },
      "To connect Claude, paste a wiki's MCP address (on its page here) into Claude.ai under Settings → Connectors → Add custom connector, then sign in and choose Allow.",
    ),
  );
  const section = el(
    "section",
    { "aria-labelledby": "my-connections-heading" },
    el("h2", { id: "my-connections-heading", tabindex: "-1" }, "Your connected apps"),
    el(
      "p",
      { class: "hint" },
      "Apps you allowed to use your wikis in your name, on every wiki. Revoking one cuts it off at once.",
    ),
    sectionErrors.element,
  );
  const table = connectionsTable<OwnConnection>(
    {
      leading: ["App", "Wiki"],
      cells: (connection) => [
        appCell(connection),
        appLink(wikiPath(connection.wiki.slug), connection.wiki.name),
      ],
      revokeLabel: (connection) => `Revoke ${connection.clientName} on ${connection.wiki.name}`,
      question: (connection) =>
        `Disconnect ${connection.clientName} from ${connection.wiki.name}? It can no longer use it.`,
      revoke: (connection) => api.revokeMyConnection(connection.id),
    },
    section,
    empty,
    sectionErrors,
    () => api.myConnections(),
  );
  section.append(table.element, empty);
  if (loaded.ok) table.show(loaded.value);
  else {
    table.show([]);
    sectionErrors.show(loaded.error.message);
  }
  return section;
}
