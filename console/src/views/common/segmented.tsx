/** A choice of one among a few, shown as joined buttons: radio inputs underneath, so keyboards and screen readers know it. */
export function Segmented<V extends string>(props: {
  name: string;
  label: string;
  options: ReadonlyArray<{ value: V; text: string }>;
  value: V;
  onChange: (value: V) => void;
}) {
  return (
    <div class="segmented" role="radiogroup" aria-label={props.label}>
      {props.options.map((o) => (
        <label key={o.value} class={`segment${props.value === o.value ? ' segment-active' : ''}`}>
          <input type="radio" name={props.name} value={o.value} checked={props.value === o.value} onChange={() => props.onChange(o.value)} />
          {o.text}
        </label>
      ))}
    </div>
  );
}
