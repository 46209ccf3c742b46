"use strict";
// The upload form of the gateway's page: PUT the chosen file to /v1/blobs
// (the Walrus publisher API) and show the blob's URLs.
(function () {
  const form = document.getElementById("upload");
  const out = document.getElementById("result");
  const button = document.getElementById("store");
  const maxSize = Number(form.dataset.maxBlobSize);

  function para(...parts) {
    const p = document.createElement("p");
    for (const x of parts) p.append(x);
    out.append(p);
    return p;
  }
  function link(id, href, text) {
    const a = document.createElement("a");
    a.id = id;
    a.href = href;
    a.textContent = text || href;
    return a;
  }
  function code(id, text) {
    const c = document.createElement("code");
    c.id = id;
    c.textContent = text;
    return c;
  }
  function fail(msg) {
    out.replaceChildren();
    out.className = "error";
    para(msg);
  }
  // textual reports whether a media type is text a browser should decode.
  function textual(t) {
    return /^text\//.test(t) || /[/+](json|xml|javascript)$/.test(t);
  }
  async function isUTF8(file) {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(await file.arrayBuffer());
      return true;
    } catch (e) {
      return false;
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = form.elements.file.files[0];
    if (!file) { fail("Choose a file first."); return; }
    if (maxSize > 0 && file.size > maxSize) {
      fail(`${file.name} has ${file.size} bytes; this gateway stores at most ${maxSize}.`);
      return;
    }
    const query = new URLSearchParams({ epochs: form.elements.epochs.value || "1" });
    const headers = { "Content-Type": "application/octet-stream" };
    const token = form.elements.token;
    if (token && token.value) headers.Authorization = "Bearer " + token.value.trim();
    button.disabled = true;
    out.className = "";
    out.replaceChildren();
    para(`Storing ${file.name} (${file.size} bytes)…`);
    try {
      const resp = await fetch("/v1/blobs?" + query, { method: "PUT", body: file, headers });
      const body = await resp.json().catch(() => null);
      if (!resp.ok) {
        const e = body && body.error;
        fail(`The gateway answered ${resp.status}: ` + (e ? `${e.message} (${e.details[0].reason})` : resp.statusText));
        return;
      }
      let id, end, state;
      if (body.newlyCreated) {
        id = body.newlyCreated.blobObject.blobId;
        end = body.newlyCreated.blobObject.storage.endEpoch;
        state = "Stored";
      } else {
        id = body.alreadyCertified.blobId;
        end = body.alreadyCertified.endEpoch;
        state = "Already stored";
      }
      const url = new URL("/v1/blobs/" + id, location.href).href;
      out.replaceChildren();
      para(`${state}: ${file.name}, blob ID `, code("blob-id", id), `, until epoch ${end}.`);
      para("URL: ", link("blob-link", url));
      if (form.dataset.contentTypeParam === "true") {
        let type = file.type;
        if (type && textual(type) && await isUTF8(file)) type += "; charset=utf-8";
        const typed = url + "?content_type=" + encodeURIComponent(type || "sniff");
        para("Open in the browser as ", code("typed-type", type || "its sniffed type"), ": ",
          link("typed-link", typed, "open"));
      }
    } catch (e) {
      fail("The upload failed: " + e);
    } finally {
      button.disabled = false;
    }
  });
})();
