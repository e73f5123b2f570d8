// Roost birds page: one bird at a time, full screen, with the next one already waiting.
//
// Contract: GET /api/v1/birds/random?exclude=<id> (same origin) answers
//   {id, slug, name, scientific_name, description, region,
//    image: {url, source, attribution}, image_status}
// or, with a non-2xx status, {error: {code, message, request_id}}.
//
// Runs under a strict CSP: no inline styles or scripts, so every visual state is a class or an
// attribute, and all text goes in through textContent.

const API_URL = '/api/v1/birds/random';
const REQUEST_TIMEOUT_MS = 10_000;
const IMAGE_TIMEOUT_MS = 12_000;
const SAME_BIRD_ATTEMPTS = 3;
const BUSY_DELAY_MS = 180;

/** The page's element marked `data-testid="<id>"`: the names the page and its tests share. */
const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

const stage = document.getElementById('stage');
const photos = Array.from(document.querySelectorAll('.photo__img'));
const card = document.querySelector('.card');
const nameEl = byTestId('bird-name');
const scientificEl = byTestId('bird-scientific-name');
const descriptionEl = byTestId('bird-description');
const regionEl = byTestId('bird-region');
const attributionEl = byTestId('bird-attribution');
const nextButton = byTestId('next-button');
const loadingEl = byTestId('loading-state');
const errorEl = byTestId('error-state');
const errorMessageEl = byTestId('error-message');
const errorReferenceEl = byTestId('error-reference');
const retryButton = byTestId('retry-button');
const announcer = byTestId('announcer');

/** The bird on screen, or null before the first one arrives. */
let current = null;
/** The bird being prepared to follow `current`: {afterId, promise}. */
let upcoming = null;
/** The transition in progress; presses during it are folded into one follow-up. */
let transition = null;
let queued = false;
/** Set when a retry started from the error panel: focus returns to the page afterwards. */
let refocusAfterRender = false;

class BirdLoadError extends Error {
  constructor(message, { status = 0, code = 'unknown', requestId = null } = {}) {
    super(message);
    this.name = 'BirdLoadError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

// ---- Loading birds ---------------------------------------------------------------------------

async function fetchBird(excludeId) {
  const url = excludeId ? `${API_URL}?exclude=${encodeURIComponent(excludeId)}` : API_URL;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    let response;
    try {
      response = await fetch(url, {
        headers: { Accept: 'application/json' },
        cache: 'no-store',
        signal: controller.signal,
      });
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === 'AbortError';
      throw new BirdLoadError(
        timedOut
          ? 'The bird catalog took too long to answer. Try again in a moment.'
          : navigator.onLine === false
            ? 'You seem to be offline. Check your connection, then try again.'
            : 'The bird catalog could not be reached. Try again in a moment.',
        { code: timedOut ? 'timeout' : 'network_error' },
      );
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      // Proxies answer errors in HTML; the status code still says what happened.
    }
    if (!response.ok) {
      const detail = body && typeof body === 'object' ? body.error : null;
      throw new BirdLoadError(describeFailure(response.status, detail), {
        status: response.status,
        code: typeof detail?.code === 'string' ? detail.code : `http_${response.status}`,
        requestId: typeof detail?.request_id === 'string' ? detail.request_id : null,
      });
    }
    return parseBird(body);
  } finally {
    clearTimeout(timer);
  }
}

function describeFailure(status, detail) {
  if (status === 429) return 'Too many birds too quickly. Wait a moment, then try again.';
  if (typeof detail?.message === 'string' && detail.message.trim()) return detail.message.trim();
  if (status === 503) return 'The bird catalog is unavailable right now. Try again in a moment.';
  if (status >= 500) return 'Something went wrong on our side. Try again in a moment.';
  return `The bird catalog answered with an error (${status}). Try again in a moment.`;
}

function parseBird(body) {
  const text = (value) => (typeof value === 'string' ? value.trim() : '');
  const id = typeof body?.id === 'number' ? String(body.id) : text(body?.id);
  const name = text(body?.name);
  if (!id || !name) {
    throw new BirdLoadError('The bird catalog sent something that is not a bird. Try again later.',
      { code: 'bad_response' });
  }
  const image = body.image && typeof body.image === 'object' ? body.image : {};
  return {
    id,
    name,
    scientificName: text(body.scientific_name),
    description: text(body.description),
    region: text(body.region),
    imageUrl: allowedImageUrl(image.url),
    imageSource: text(image.source),
    attribution: text(image.attribution),
  };
}

// The CSP allows images from this origin, data: and blob: only; anything else would be blocked
// (and logged), so such a bird is shown without its picture instead.
function allowedImageUrl(value) {
  if (typeof value !== 'string' || !value) return null;
  let url;
  try {
    url = new URL(value, document.baseURI);
  } catch {
    return null;
  }
  if (url.protocol === 'data:' || url.protocol === 'blob:') return url.href;
  if (url.origin !== window.location.origin) return null;
  return url.href;
}

/** Fetch a bird other than `excludeId` and download its picture before anyone sees it. */
async function prepareBird(excludeId) {
  let bird = await fetchBird(excludeId);
  for (let attempt = 1; excludeId && bird.id === excludeId; attempt += 1) {
    if (attempt >= SAME_BIRD_ATTEMPTS) {
      throw new BirdLoadError('The catalog keeps sending the same bird. Try again in a moment.', {
        code: 'no_other_bird',
      });
    }
    bird = await fetchBird(excludeId);
  }
  bird.imageStatus = bird.imageUrl ? await preloadImage(bird.imageUrl) : 'failed';
  return bird;
}

/** Resolves to 'ok', 'failed' (broken or missing picture) or 'slow' (still downloading). */
function preloadImage(url) {
  const image = new Image();
  image.decoding = 'async';
  image.src = url;
  const slow = new Promise((resolve) => setTimeout(resolve, IMAGE_TIMEOUT_MS, 'slow'));
  const decoded = image.decode().then(
    () => 'ok',
    () => 'failed',
  );
  return Promise.race([decoded, slow]);
}

function prepareUpcoming() {
  const afterId = current ? current.id : null;
  const promise = prepareBird(afterId);
  // A failed preload is not an error yet: it is retried when the visitor asks for the bird.
  promise.catch(() => {});
  upcoming = { afterId, promise };
}

async function takeUpcoming() {
  const afterId = current ? current.id : null;
  if (upcoming && upcoming.afterId === afterId) {
    const { promise } = upcoming;
    upcoming = null;
    try {
      return await promise;
    } catch {
      // Fall through: one fresh attempt decides whether the visitor sees an error.
    }
  }
  return prepareBird(afterId);
}

// ---- Showing birds -----------------------------------------------------------------------------

function showNext() {
  if (transition) {
    queued = true;
    return transition;
  }
  transition = runTransition().finally(() => {
    transition = null;
    if (queued) {
      queued = false;
      showNext();
    }
  });
  return transition;
}

async function runTransition() {
  const busyTimer = setTimeout(() => nextButton.setAttribute('aria-busy', 'true'), BUSY_DELAY_MS);
  if (!current) setState('loading');
  try {
    const bird = await takeUpcoming();
    await render(bird);
    current = bird;
    prepareUpcoming();
  } catch (error) {
    queued = false;
    refocusAfterRender = false;
    showError(error);
  } finally {
    clearTimeout(busyTimer);
    nextButton.removeAttribute('aria-busy');
  }
}

async function render(bird) {
  const [leaving, entering] = photos[0].classList.contains('is-active')
    ? [photos[0], photos[1]]
    : [photos[1], photos[0]];

  entering.classList.remove('is-previous', 'is-active');
  if (bird.imageStatus === 'failed') {
    entering.removeAttribute('src');
    entering.alt = '';
  } else {
    entering.alt = bird.scientificName ? `${bird.name} (${bird.scientificName})` : bird.name;
    entering.src = bird.imageUrl;
    if (bird.imageStatus === 'ok') await entering.decode().catch(() => {});
    // A slow picture fades in whenever it arrives; until then the backdrop stands in for it.
    else entering.decode().then(() => showArrivedImage(entering), () => {});
  }

  leaving.classList.remove('is-active');
  leaving.classList.add('is-previous');
  leaving.removeAttribute('data-testid');
  stage.classList.toggle('no-image', bird.imageStatus !== 'ok');
  // Reading layout commits the transparent start state, so the fade-in actually runs.
  void entering.offsetWidth;
  entering.classList.add('is-active');
  entering.setAttribute('data-testid', 'bird-image');

  nameEl.textContent = bird.name;
  scientificEl.textContent = bird.scientificName;
  scientificEl.hidden = !bird.scientificName;
  descriptionEl.textContent = bird.description;
  regionEl.textContent = bird.region;
  regionEl.parentElement.hidden = !bird.region;
  attributionEl.textContent = bird.attribution;
  attributionEl.hidden = !bird.attribution;
  document.title = `${bird.name} · Roost Birds`;

  setState('ready');
  card.classList.remove('is-entering');
  void card.offsetWidth;
  card.classList.add('is-entering');
  announcer.textContent = bird.scientificName
    ? `${bird.name}, ${bird.scientificName}. ${bird.region}`
    : bird.name;
  if (refocusAfterRender) {
    refocusAfterRender = false;
    nextButton.focus();
  }
}

function showArrivedImage(image) {
  if (image.classList.contains('is-active')) stage.classList.remove('no-image');
}

function showError(error) {
  const known = error instanceof BirdLoadError;
  errorMessageEl.textContent = known
    ? error.message
    : 'Something unexpected happened while loading a bird. Try again in a moment.';
  errorReferenceEl.textContent = known && error.requestId ? `Reference: ${error.requestId}` : '';
  errorReferenceEl.hidden = !errorReferenceEl.textContent;
  // The card is about to be hidden; keyboard focus inside it moves to the way forward.
  const focusWasInCard = card.contains(document.activeElement);
  setState('error');
  if (focusWasInCard) retryButton.focus();
}

function setState(state) {
  stage.dataset.state = state;
  stage.setAttribute('aria-busy', state === 'loading' ? 'true' : 'false');
  loadingEl.hidden = state !== 'loading';
  errorEl.hidden = state !== 'error';
}

// ---- Input ------------------------------------------------------------------------------------

function retry() {
  if (transition) return;
  // The panel is about to disappear; without this, keyboard focus would fall back to <body>.
  refocusAfterRender = errorEl.contains(document.activeElement);
  upcoming = null;
  setState(current ? 'ready' : 'loading');
  if (refocusAfterRender && current) nextButton.focus();
  showNext();
}

function onKeyDown(event) {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
  const isSpace = event.key === ' ' || event.code === 'Space';
  if (!isSpace && event.key !== 'ArrowRight') return;
  const target = event.target instanceof Element ? event.target : null;
  if (target?.closest('input, textarea, select, [contenteditable]')) return;
  // A focused button already turns Space into a click; handling it here too would skip a bird.
  if (isSpace && target?.closest('button, a[href], summary')) return;
  event.preventDefault();
  if (event.repeat) return;
  if (stage.dataset.state === 'error') retry();
  else if (stage.dataset.state === 'ready') showNext();
}

nextButton.addEventListener('click', () => showNext());
retryButton.addEventListener('click', retry);
document.addEventListener('keydown', onKeyDown);
setState('loading');
showNext();
