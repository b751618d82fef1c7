// The "more below" cue: when the tab shown is taller than the panel, a small button at the panel's
// bottom edge says so and names the parts under the fold (the legend, the key spans, the logit
// lens…); clicking it scrolls the first of them into view. VS Code's webview scrollbars show only
// on hover, so without it nothing would tell a user of a short panel that there is more.

import { element } from './view';

/** The parts a user looks for, by selector, and the name the cue gives each. */
const PARTS: readonly (readonly [selector: string, name: string])[] = [
  ['.heatmap-frame', 'map'],
  ['.legend', 'legend'],
  ['.overview', 'overview'],
  ['.span-list', 'key spans'],
  ['.lens', 'logit lens'],
  ['.histograms', 'histograms'],
  ['.data-table', 'table'],
];
/** Less than this below the fold is not "more" (subpixel layouts, the body's bottom padding). */
const SLACK_PX = 16;

export class MoreBelowCue {
  readonly element = element('button', 'more-below', 'more-below');
  private frame = 0;

  constructor() {
    this.element.type = 'button';
    this.element.hidden = true;
    this.element.addEventListener('click', () => this.scrollOn());
    const schedule = () => {
      if (!this.frame) this.frame = requestAnimationFrame(() => this.update());
    };
    window.addEventListener('scroll', schedule, { passive: true });
    window.addEventListener('resize', schedule);
    new ResizeObserver(schedule).observe(document.body);
    // A tab switch or a new run changes what is under the fold without resizing the page.
    new MutationObserver(schedule).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['hidden', 'class'] });
  }

  /** The named parts of the shown tab that reach under the fold, in page order. */
  private partsBelow(): { part: Element; name: string }[] {
    const below: { part: Element; name: string; top: number }[] = [];
    for (const [selector, name] of PARTS) {
      for (const part of document.querySelectorAll(selector)) {
        const box = part.getBoundingClientRect();
        if (box.height > 0 && box.bottom > window.innerHeight + 1 && !below.some((found) => found.part.contains(part))) below.push({ part, name, top: box.top });
      }
    }
    return below.sort((a, b) => a.top - b.top);
  }

  private update(): void {
    this.frame = 0;
    const page = document.scrollingElement ?? document.documentElement;
    const more = page.scrollHeight - window.scrollY - window.innerHeight > SLACK_PX;
    const names = more ? [...new Set(this.partsBelow().map(({ name }) => name))] : [];
    const label = names.length ? `More below: ${names.join(', ')}` : 'More below';
    this.element.hidden = !more;
    if (this.element.textContent !== `▾ ${label}`) {
      this.element.textContent = `▾ ${label}`;
      this.element.title = `${label} (click to scroll)`;
    }
  }

  /** Scrolls the first part under the fold to the top of the panel (past the sticky error banner),
   *  or one panel further when it already starts in view. */
  private scrollOn(): void {
    const first = this.partsBelow()[0]?.part;
    const top = first?.getBoundingClientRect().top;
    const banner = document.querySelector('#error-banner:not([hidden])')?.getBoundingClientRect().height ?? 0;
    const by = top !== undefined && top > banner + SLACK_PX ? top - banner - SLACK_PX : window.innerHeight * 0.8;
    window.scrollBy({ top: by });
  }
}
