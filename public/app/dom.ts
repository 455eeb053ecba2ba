/**
 * Small DOM helpers. Text from the API only ever reaches the page through textContent or
 * attributes set one by one, never as HTML.
 */

type Child = Node | string | null | false | undefined;
type Attributes = Record<string, string | boolean | undefined>;

/** `el("p", { class: "hint" }, "text", child)`: attributes and children, all as text or nodes. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === false || child === undefined) continue;
    element.append(child);
  }
  return element;
}

let nextId = 0;
/** A page-unique id for label/aria wiring. */
export function uid(prefix: string): string {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** An inline error slot: empty until `show`, announced when filled (role=alert). */
export interface ErrorSlot {
  element: HTMLParagraphElement;
  show(message: string, field?: HTMLElement): void;
  clear(): void;
}

export function errorSlot(fields: HTMLElement[] = []): ErrorSlot {
  const element = el("p", { class: "error", id: uid("error"), role: "alert", hidden: true });
  const describedBy = (field: HTMLElement) =>
    (field.getAttribute("aria-describedby") ?? "").split(" ").filter((id) => id !== "");
  const clear = () => {
    element.textContent = "";
    element.hidden = true;
    for (const field of fields) {
      field.removeAttribute("aria-invalid");
      const ids = describedBy(field).filter((id) => id !== element.id);
      if (ids.length === 0) field.removeAttribute("aria-describedby");
      else field.setAttribute("aria-describedby", ids.join(" "));
    }
  };
  return {
    element,
    clear,
    show(message, field) {
      clear();
      element.textContent = message;
      element.hidden = false;
      if (field === undefined) return;
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", [...describedBy(field), element.id].join(" "));
    },
  };
}

/** A labelled input with an optional hint wired through aria-describedby. */
export function field(
  label: string,
  input: HTMLInputElement | HTMLSelectElement,
  hint?: string,
): { wrapper: HTMLDivElement; input: HTMLInputElement | HTMLSelectElement } {
  input.id = input.id === "" ? uid("field") : input.id;
  const hintElement = hint === undefined ? null : el("p", { class: "hint", id: uid("hint") }, hint);
  if (hintElement !== null) input.setAttribute("aria-describedby", hintElement.id);
  const wrapper = el(
    "div",
    { class: "field" },
    el("label", { for: input.id }, label),
    hintElement,
    input,
  );
  return { wrapper, input };
}

/** A select of fixed options. */
export function select(
  options: [value: string, label: string][],
  selected: string,
): HTMLSelectElement {
  const element = el("select");
  for (const [value, label] of options) {
    element.append(el("option", { value, selected: value === selected }, label));
  }
  return element;
}

/** Runs `task` with `button` disabled, so a double press sends one request. */
export async function busy<T>(button: HTMLButtonElement, task: () => Promise<T>): Promise<T> {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await task();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** A button that copies `text`, saying "Copied" next to itself (and to screen readers). */
export function copyButton(label: string, text: string): HTMLSpanElement {
  const button = el("button", { type: "button", class: "copy" }, label);
  const said = el("span", { class: "copied", role: "status" });
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      said.textContent = "Copied";
    } catch {
      said.textContent = "Copying failed: select the text and copy it yourself";
    }
    setTimeout(() => {
      said.textContent = "";
    }, 4000);
  });
  return el("span", { class: "copy-row" }, button, said);
}

/** Formats an RFC 3339 time for people, or a dash for null. */
export function when(time: string | null): string {
  if (time === null) return "—";
  const date = new Date(time);
  return Number.isNaN(date.getTime()) ? time : date.toLocaleString();
}
