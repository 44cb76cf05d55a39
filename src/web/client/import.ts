// The console's import page: a file chooser that reads the chosen CSV file into the rows box, where
// it can still be corrected before the preview. Without JavaScript the chooser stays hidden and
// the rows are pasted.

export function csvFilePicker(): void {
  const wrap = document.querySelector<HTMLElement>('[data-csv-file]');
  const input = wrap?.querySelector<HTMLInputElement>('input[type="file"]');
  const rows = document.querySelector<HTMLTextAreaElement>('textarea#csv');
  const error = wrap?.querySelector<HTMLElement>('.field-error');
  if (!wrap || !input || !rows || !error) return;
  wrap.hidden = false;
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    if (!file) return;
    try {
      // Refused rather than read with replacement characters: names would be garbled.
      rows.value = new TextDecoder('utf-8', { fatal: true }).decode(await file.arrayBuffer());
    } catch {
      error.textContent = wrap.dataset.notUtf8 ?? '';
      input.setAttribute('aria-invalid', 'true');
    }
  });
}
