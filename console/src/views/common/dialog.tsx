import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/**
 * A modal dialog on the native <dialog> element: focus is kept inside, Escape closes it, and
 * assistive technology (and Playwright's getByRole('dialog')) sees a dialog with its title.
 */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; tone?: 'danger'; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      class={`dialog${props.tone === 'danger' ? ' dialog-danger' : ''}${props.wide ? ' dialog-wide' : ''}`}
      aria-labelledby="dialog-title"
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <h2 id="dialog-title" class="dialog-title">
        {props.title}
      </h2>
      {props.children}
    </dialog>
  );
}
