// The drawing pad (explorer/ui/drawing_pad.py): white strokes on black, sent to the server
// the moment the pen lifts, with undo, redo and clear. Strokes live in the browser, keyed by
// the component's element; after a remount they come back from the last sent state.

const PADS = new WeakMap();

function paint(pad) {
  const { context, side, width } = pad;
  context.fillStyle = "#000";
  context.fillRect(0, 0, side, side);
  context.strokeStyle = "#fff";
  context.lineWidth = width;
  context.lineCap = "round";
  context.lineJoin = "round";
  const strokes = pad.current ? [...pad.strokes, pad.current] : pad.strokes;
  for (const stroke of strokes) {
    context.beginPath();
    context.moveTo(stroke[0][0], stroke[0][1]);
    if (stroke.length === 1) context.lineTo(stroke[0][0] + 0.01, stroke[0][1]);
    for (const [x, y] of stroke.slice(1)) context.lineTo(x, y);
    context.stroke();
  }
  pad.undo.disabled = pad.strokes.length === 0;
  pad.redo.disabled = pad.undone.length === 0;
  pad.clear.disabled = pad.strokes.length === 0;
}

function send(pad) {
  paint(pad);
  pad.setStateValue(
    "drawing",
    pad.strokes.length
      ? { png: pad.canvas.toDataURL("image/png"), strokes: pad.strokes }
      : null,
  );
}

function point(pad, event) {
  const box = pad.canvas.getBoundingClientRect();
  const scale = pad.side / box.width;
  const round = (value) => Math.round(value * scale * 10) / 10;
  return [round(event.clientX - box.left), round(event.clientY - box.top)];
}

function createPad(root, data) {
  const canvas = root.querySelector("canvas");
  canvas.width = canvas.height = data.side;
  canvas.style.width = canvas.style.height = `${data.side}px`;
  const [undo, redo, clear] = root.querySelectorAll("button");
  const pad = {
    canvas, undo, redo, clear,
    context: canvas.getContext("2d"),
    side: data.side,
    width: data.strokeWidth,
    strokes: Array.isArray(data.strokes) ? data.strokes : [],
    undone: [],
    current: null,
    setStateValue: () => {},
  };
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    pad.current = [point(pad, event)];
    paint(pad);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!pad.current) return;
    pad.current.push(point(pad, event));
    paint(pad);
  });
  const lift = () => {
    if (!pad.current) return;
    pad.strokes = [...pad.strokes, pad.current];
    pad.current = null;
    pad.undone = [];
    send(pad);
  };
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);
  undo.addEventListener("click", () => {
    pad.undone.push(pad.strokes[pad.strokes.length - 1]);
    pad.strokes = pad.strokes.slice(0, -1);
    send(pad);
  });
  redo.addEventListener("click", () => {
    pad.strokes = [...pad.strokes, pad.undone.pop()];
    send(pad);
  });
  clear.addEventListener("click", () => {
    pad.strokes = [];
    pad.undone = [];
    send(pad);
  });
  paint(pad);
  return pad;
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let pad = PADS.get(parentElement);
  if (!pad) {
    pad = createPad(parentElement, data);
    PADS.set(parentElement, pad);
  }
  pad.setStateValue = setStateValue;
}
