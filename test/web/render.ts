/** Renders a React element into a happy-dom document for the component tests. */
import { act, createElement, type ComponentType } from 'react';
import { createRoot, type Root } from 'react-dom/client';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

export interface Rendered {
  container: HTMLElement;
  root: Root;
  rerender<P extends object>(c: ComponentType<P>, props: P): void;
  unmount(): void;
}

export function render<P extends object>(component: ComponentType<P>, props: P): Rendered {
  const container = document.createElement('div');
  document.body.appendChild(container);
  const root = createRoot(container);
  act(() => root.render(createElement(component, props)));
  return {
    container,
    root,
    rerender: (c, p) => act(() => root.render(createElement(c, p))),
    unmount: () => {
      act(() => root.unmount());
      container.remove();
    },
  };
}
