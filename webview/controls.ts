// The form controls of the panel. This is the only module that uses @vscode/webview-ui-toolkit
// (deprecated upstream since January 2025; its successor is @vscode-elements/elements), so the
// toolkit can be replaced here without touching the views. Callers get plain HTMLElements and
// callbacks with typed values.

import {
  provideVSCodeDesignSystem,
  vsCodeButton,
  vsCodeDropdown,
  vsCodeOption,
  vsCodePanels,
  vsCodePanelTab,
  vsCodePanelView,
  vsCodeRadio,
  vsCodeRadioGroup,
} from '@vscode/webview-ui-toolkit';
import { POOLINGS, type MapViewport } from '../shared/inspection';
import { QUANT_BITS, type MapView, type QuantBits } from '../shared/model';
import { VIEW_LABELS } from './format';

/** Defines the toolkit's custom elements (once, before any control is created). */
export function registerToolkit(): void {
  provideVSCodeDesignSystem().register(
    vsCodeDropdown(),
    vsCodeOption(),
    vsCodePanels(),
    vsCodePanelTab(),
    vsCodePanelView(),
    vsCodeRadioGroup(),
    vsCodeRadio(),
    vsCodeButton(),
  );
}

/** The toolkit's elements expose their current value as a string property. */
type ValueElement = HTMLElement & { value: string };

/** Calls onChange with the element's new value when the user changes it. Setting the value from
 *  code also fires 'change' in the toolkit; remembering the last value filters those out. */
function onUserChange(element: ValueElement, current: () => string, onChange: (value: string) => void): void {
  element.addEventListener('change', () => {
    if (element.value !== '' && element.value !== current()) onChange(element.value);
  });
}

export interface RadioSwitch<Value extends string> {
  readonly element: HTMLElement;
  /** Offers the given values with current checked. */
  show(values: readonly Value[], current: Value): void;
}

/** A horizontal radio group with the given id; each radio has data-<dataKey> = its value. */
function createRadioSwitch<Value extends string>(
  id: string,
  labels: Record<Value, string>,
  dataKey: string,
  onChange: (value: Value) => void,
): RadioSwitch<Value> {
  const group = document.createElement('vscode-radio-group') as ValueElement;
  group.id = id;
  group.setAttribute('orientation', 'horizontal');
  let offered = '';
  let current = '';
  onUserChange(group, () => current, (value) => {
    current = value;
    onChange(value as Value);
  });
  return {
    element: group,
    show(values, value) {
      current = value;
      if (offered !== values.join()) {
        offered = values.join();
        group.replaceChildren(
          ...values.map((option) => {
            const radio = document.createElement('vscode-radio') as ValueElement;
            radio.setAttribute('value', option);
            radio.dataset[dataKey] = option;
            radio.textContent = labels[option];
            if (option === value) radio.setAttribute('checked', '');
            return radio;
          }),
        );
      }
      group.value = value;
    },
  };
}

export type ViewSwitch = RadioSwitch<MapView>;

/** The map-view switch: A1 / A2 / λ·A2 / A1−λ·A2 (#view-switch; each radio has data-view). */
export function createViewSwitch(onChange: (view: MapView) => void): ViewSwitch {
  const radios = createRadioSwitch('view-switch', VIEW_LABELS, 'view', onChange);
  radios.element.setAttribute('aria-label', 'Map view');
  return radios;
}

export type Pooling = MapViewport['pooling'];
export type PoolingSwitch = RadioSwitch<Pooling>;

const POOLING_LABELS: Record<Pooling, string> = { mean: 'Mean', max: 'Max' };

/** How a map's cells pool the tokens they cover: Mean / Max (the entry of largest magnitude, with
 *  its sign). `id` is the radio group's; each radio has data-pooling. */
export function createPoolingSwitch(id: string, onChange: (pooling: Pooling) => void): PoolingSwitch {
  const radios = createRadioSwitch(id, POOLING_LABELS, 'pooling', onChange);
  radios.element.setAttribute('aria-label', 'Cells pool their tokens by');
  radios.element.title = 'Mean: the average of the entries a cell covers. Max: the entry of largest magnitude, with its sign (a sharp retrieval stays visible).';
  radios.show(POOLINGS, 'mean');
  return radios;
}

export interface QuantSwitch {
  /** The labelled wrapper to place in the page. */
  readonly element: HTMLElement;
  show(bits: QuantBits | null): void;
}

const QUANT_LABELS: Record<string, string> = { off: 'Off', ...Object.fromEntries(QUANT_BITS.map((bits) => [bits, `${bits}-bit`])) };

/** The quantisation grid switch: Off / 8-bit / 6-bit / 4-bit (#quant-switch; each radio has
 *  data-bits = off, 8, 6 or 4). */
export function createQuantSwitch(onChange: (bits: QuantBits | null) => void): QuantSwitch {
  const wrapper = document.createElement('div');
  wrapper.className = 'control';
  const caption = document.createElement('span');
  caption.className = 'control-label';
  caption.textContent = 'Quantisation grid';
  const values = ['off', ...QUANT_BITS.map(String)];
  const radios = createRadioSwitch('quant-switch', QUANT_LABELS, 'bits', (value) => onChange(value === 'off' ? null : (Number(value) as QuantBits)));
  radios.element.setAttribute('aria-label', caption.textContent);
  wrapper.append(caption, radios.element);
  return {
    element: wrapper,
    show(bits) {
      radios.show(values, bits === null ? 'off' : String(bits));
    },
  };
}

export interface IndexSelect {
  /** The labelled wrapper to place in the page. */
  readonly element: HTMLElement;
  /** Offers one option per label (values 0..n-1) with current selected. */
  show(labels: readonly string[], current: number): void;
}

/** A labelled dropdown of indices (layers, heads); the dropdown itself gets the id. */
export function createIndexSelect(id: string, label: string, onChange: (index: number) => void): IndexSelect {
  const wrapper = document.createElement('label');
  wrapper.className = 'control';
  const caption = document.createElement('span');
  caption.className = 'control-label';
  caption.textContent = label;
  const dropdown = document.createElement('vscode-dropdown') as ValueElement;
  dropdown.id = id;
  // A <label> does not name a custom element: without this the combobox is announced by its value.
  dropdown.setAttribute('aria-label', label);
  wrapper.append(caption, dropdown);
  let offered = '';
  let current = '';
  onUserChange(dropdown, () => current, (value) => {
    current = value;
    onChange(Number(value));
  });
  return {
    element: wrapper,
    show(labels, index) {
      current = String(index);
      if (offered !== labels.join('\n')) {
        offered = labels.join('\n');
        dropdown.replaceChildren(
          ...labels.map((text, value) => {
            const option = document.createElement('vscode-option') as ValueElement;
            option.setAttribute('value', String(value));
            option.textContent = text;
            if (value === index) option.setAttribute('selected', '');
            return option;
          }),
        );
      }
      dropdown.value = current;
      dropdown.toggleAttribute('disabled', labels.length <= 1);
    },
  };
}

/** A button with an accessible name (`title`, also its tooltip) that calls onClick. */
export function createButton(id: string, label: string, title: string, onClick: () => void): HTMLElement {
  const button = document.createElement('vscode-button');
  button.id = id;
  button.setAttribute('appearance', 'secondary');
  button.setAttribute('aria-label', title);
  button.title = title;
  button.textContent = label;
  button.addEventListener('click', onClick);
  return button;
}

/** A button that stays pressed until clicked again (aria-pressed), e.g. "View as table". */
export function createToggleButton(id: string, label: string, onToggle: (pressed: boolean) => void): HTMLElement {
  const button = document.createElement('vscode-button');
  button.id = id;
  button.setAttribute('appearance', 'secondary');
  button.setAttribute('aria-pressed', 'false');
  button.textContent = label;
  button.addEventListener('click', () => {
    const pressed = button.getAttribute('aria-pressed') !== 'true';
    button.setAttribute('aria-pressed', String(pressed));
    button.setAttribute('appearance', pressed ? 'primary' : 'secondary'); // the toolkit draws no pressed state
    onToggle(pressed);
  });
  return button;
}

export interface TabSpec<Id extends string> {
  id: Id;
  title: string;
  content: HTMLElement;
}

export interface Tabs<Id extends string> {
  readonly element: HTMLElement;
  select(id: Id): void;
}

/** Tabs over the given contents; tab elements get the ids `tab-<id>`. */
export function createTabs<Id extends string>(tabs: readonly TabSpec<Id>[], onChange: (id: Id) => void): Tabs<Id> {
  const panels = document.createElement('vscode-panels');
  panels.id = 'tabs';
  for (const { id, title } of tabs) {
    const tab = document.createElement('vscode-panel-tab');
    tab.id = `tab-${id}`;
    tab.textContent = title;
    panels.append(tab);
  }
  for (const { id, content } of tabs) {
    const view = document.createElement('vscode-panel-view');
    view.id = `view-${id}`;
    view.append(content);
    panels.append(view);
  }
  panels.addEventListener('change', (event) => {
    const tab = (event as CustomEvent<HTMLElement | undefined>).detail;
    const id = tab?.id.replace(/^tab-/, '');
    if (event.target === panels && tabs.some((spec) => spec.id === id)) onChange(id as Id);
  });
  return {
    element: panels,
    select(id) {
      panels.setAttribute('activeid', `tab-${id}`);
    },
  };
}
