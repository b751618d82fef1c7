// The overview's context menu on a thumbnail: "Ablate head" (its output removed) and "Ablate A2
// only" (λ = 0: the head keeps A1 and cancels nothing; DIFF models only). Either runs a what-if,
// shown on the What-if tab. A small menu of buttons (role menu), closed by Escape, a click
// elsewhere or a choice. It opens where it stays inside the panel at every edge.

import type { WhatIfSpec } from '../shared/protocol';
import { element, textElement } from './view';

/** The least gap (CSS px) between the menu and the panel's right and bottom edges. */
const EDGE_GAP = 2;

export class HeadMenu {
  readonly element = element('div', 'head-menu', 'head-menu');

  constructor(private readonly onChoose: (spec: WhatIfSpec) => void) {
    this.element.setAttribute('role', 'menu');
    this.element.hidden = true;
    document.addEventListener('pointerdown', (event) => {
      if (!this.element.contains(event.target as Node)) this.close();
    });
    this.element.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.close();
    });
    // Placed in the panel's window (position: fixed), it would stay put while the page moved under it.
    window.addEventListener('scroll', () => this.close(), { passive: true });
    window.addEventListener('resize', () => this.close());
  }

  /** Opens the menu for a head at client position (x, y); `hasLambda` offers "Ablate A2 only". */
  open(layer: number, head: number, x: number, y: number, hasLambda: boolean): void {
    const item = (id: string, label: string, spec: WhatIfSpec) => {
      const button = textElement('button', label, 'head-menu-item');
      button.id = id;
      button.type = 'button';
      button.setAttribute('role', 'menuitem');
      button.addEventListener('click', () => {
        this.close();
        this.onChoose(spec);
      });
      return button;
    };
    const items = [item('menu-ablate-head', `Ablate head (L${layer} H${head})`, { kind: 'ablateHead', layer, head })];
    if (hasLambda) items.push(item('menu-ablate-a2', 'Ablate A2 only', { kind: 'ablateA2', layer, head }));
    this.element.replaceChildren(...items);
    this.element.hidden = false;
    this.placeInside(x, y);
    items[0].focus();
  }

  /** Puts the menu's corner at client position (x, y), moved left and opened upwards where the
   *  panel's right or bottom edge would cut it off. */
  private placeInside(x: number, y: number): void {
    // Measured at the panel's corner, where no edge narrows it.
    Object.assign(this.element.style, { left: '0px', top: '0px' });
    const { offsetWidth: width, offsetHeight: height } = this.element;
    const page = document.documentElement; // its client size leaves out the scrollbars
    const [right, bottom] = [page.clientWidth - EDGE_GAP, page.clientHeight - EDGE_GAP];
    const placedX = Math.max(0, Math.min(x, right - width));
    const placedY = y + height <= bottom ? y : Math.max(0, y - height);
    Object.assign(this.element.style, { left: `${placedX}px`, top: `${placedY}px` });
  }

  private close(): void {
    this.element.hidden = true;
  }
}
