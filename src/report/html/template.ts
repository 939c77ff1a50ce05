/**
 * HTML built with a tagged template that escapes every interpolated value, so text from a report
 * (layer names and paths are user input) can never become markup. Only SafeHtml passes through as it
 * is: what `html` itself returns, or `SafeHtml.trusted` for a constant written in this codebase (the
 * stylesheet). Attribute values must be quoted in the templates; the escaping covers both contexts.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for HTML element content and quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch] as string);
}

/** A fragment of markup known to be safe. The private field makes the type nominal: no plain string or object is one. */
export class SafeHtml {
  readonly #markup: string;

  private constructor(markup: string) {
    this.#markup = markup;
  }

  /** Markup written in this codebase, taken as it is. Never for text that came from a report. */
  static trusted(markup: string): SafeHtml {
    return new SafeHtml(markup);
  }

  toString(): string {
    return this.#markup;
  }
}

/** What a template accepts: safe markup as it is, strings and numbers escaped, nothing for null/undefined/false, arrays in order. */
export type Fragment = SafeHtml | string | number | null | undefined | false | readonly Fragment[];

function render(value: Fragment): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** html`<td>${name}</td>`: the literal parts as written, every value escaped unless it is SafeHtml. */
export function html(strings: TemplateStringsArray, ...values: Fragment[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return SafeHtml.trusted(out);
}

/** Fragments joined by a separator, each escaped unless safe. */
export function join(parts: readonly Fragment[], separator: Fragment): SafeHtml {
  return SafeHtml.trusted(parts.map(render).join(render(separator)));
}
