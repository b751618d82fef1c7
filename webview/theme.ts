// The theme as the page has it: VS Code sets --vscode-* CSS variables on the webview and switches
// the body's vscode-light / vscode-dark / vscode-high-contrast class when the user changes theme.

import { color } from 'd3-color';
import { FALLBACK_THEMES, type Theme } from './colors';

/** The theme's colours, read from the CSS variables VS Code sets on the page. */
export function readTheme(): Theme {
  const style = getComputedStyle(document.body);
  const fallback = FALLBACK_THEMES[document.body.classList.contains('vscode-light') ? 'light' : 'dark'];
  const colorVar = (name: string, otherwise: string): string => {
    const parsed = color(style.getPropertyValue(name).trim());
    return parsed ? parsed.formatRgb() : otherwise;
  };
  const fontVar = (name: string, otherwise: string): string => style.getPropertyValue(name).trim() || otherwise;
  return {
    background: colorVar('--vscode-editor-background', fallback.background),
    foreground: colorVar('--vscode-foreground', fallback.foreground),
    mutedForeground: colorVar('--vscode-descriptionForeground', fallback.mutedForeground),
    positive: colorVar('--vscode-charts-red', fallback.positive),
    negative: colorVar('--vscode-charts-blue', fallback.negative),
    highlight: colorVar('--vscode-charts-yellow', fallback.highlight),
    bars: colorVar('--vscode-charts-orange', fallback.bars),
    grid: colorVar('--vscode-charts-purple', fallback.grid),
    uiFont: fontVar('--vscode-font-family', fallback.uiFont),
    tokenFont: fontVar('--vscode-editor-font-family', fallback.tokenFont),
  };
}

/** Calls onChange (once per frame at most) when VS Code switches the theme: it changes the body's
 *  vscode-light / vscode-dark / vscode-high-contrast class and the variables on <html>. */
export function watchTheme(onChange: () => void): void {
  let scheduled = false;
  const observer = new MutationObserver(() => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      onChange();
    });
  });
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
}
