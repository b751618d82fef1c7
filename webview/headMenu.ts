// The overview's context menu on a thumbnail: "Ablate head" (its output removed) and "Ablate A2
// only" (λ = 0: the head keeps A1 and cancels nothing; DIFF models only). Either runs a what-if,
// shown on the What-if tab. A small menu of buttons (role menu), closed by Escape, a click
// elsewhere or a choice.

import type { WhatIfSpec } from '../shared/protocol';
import { element, textElement } from './view';

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
  }

  /** Opens the menu for a head at page position (x, y); `hasLambda` offers "Ablate A2 only". */
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
    Object.assign(this.element.style, { left: `${x}px`, top: `${y}px` });
    this.element.hidden = false;
    items[0].focus();
  }

  close(): void {
    this.element.hidden = true;
  }
}
