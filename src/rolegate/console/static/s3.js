// rolegate console, S3 object browser: uploads straight from the browser to S3.
// For each chosen file the page asks the console for a presigned PutObject URL (POST with the
// CSRF token), PUTs the file to it (XMLHttpRequest, for upload progress), and finally
// reloads the listing in place. An S3 refusal is sent back to the console, which renders
// S3's message and the policy engine's explanation like every other refusal on the page.
"use strict";
(() => {
  const MAX_SINGLE_PUT = 5 * 1024 * 1024 * 1024;

  function formBody(values) {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(values)) body.append(name, value);
    return body;
  }

  async function postForm(url, values) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
      body: formBody(values),
    });
    const type = response.headers.get("content-type") || "";
    if (!type.includes("application/json")) {
      throw new Error(response.status === 403
        ? "The console refused the request: reload the page and try again."
        : `The console answered ${response.status}.`);
    }
    return { ok: response.ok, data: await response.json() };
  }

  function putFile(url, file, headers, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      for (const [name, value] of Object.entries(headers || {})) xhr.setRequestHeader(name, value);
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onProgress(event.loaded);
      });
      xhr.addEventListener("load", () => resolve({ status: xhr.status, text: xhr.responseText }));
      xhr.addEventListener("error", () => reject(new Error("The upload failed: network error.")));
      xhr.addEventListener("abort", () => reject(new Error("The upload was cancelled.")));
      xhr.send(file);
    });
  }

  function s3Error(status, text) {
    // S3's REST-XML error: <Error><Code/><Message/></Error>
    let code = `HTTP ${status}`;
    let message = "";
    try {
      const xml = new DOMParser().parseFromString(text, "application/xml");
      const pick = (name) => {
        const node = xml.querySelector(`Error > ${name}`);
        return node ? node.textContent : "";
      };
      code = pick("Code") || code;
      message = pick("Message");
    } catch (_) {
      // not XML: the status alone
    }
    return { code, message };
  }

  function showText(status, text, ok) {
    status.classList.toggle("ok", Boolean(ok));
    status.replaceChildren(document.createTextNode(text));
  }

  function showError(status, text) {
    const box = document.createElement("div");
    box.className = "alert error";
    box.setAttribute("role", "alert");
    box.setAttribute("data-testid", "aws-error");
    const message = document.createElement("div");
    message.className = "alert-message";
    message.textContent = text;
    box.append(message);
    status.classList.remove("ok");
    status.replaceChildren(box);
  }

  async function reloadListing(root) {
    const url = root.getAttribute("data-listing-url");
    const current = document.getElementById("s3-listing");
    if (!url || !current) return;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("s3-listing");
      if (fresh) current.replaceWith(document.adoptNode(fresh));
    } catch (_) {
      // the listing stays as it was; a reload shows the new objects
    }
  }

  function setup(root) {
    const input = root.querySelector("[data-testid=upload-input]");
    const button = root.querySelector("[data-testid=upload-submit]");
    const status = root.querySelector("[data-testid=upload-status]");
    const progress = root.querySelector("[data-testid=upload-progress]");
    const bar = progress.querySelector("div");
    const csrf = root.querySelector("input[name=csrf]").value;
    const prefix = root.getAttribute("data-prefix") || "";
    const drop = root.querySelector("[data-testid=upload-drop]");

    const refresh = () => { button.disabled = !input.files || input.files.length === 0; };
    input.addEventListener("change", refresh);
    refresh();
    drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        refresh();
      }
    });

    button.addEventListener("click", async () => {
      const files = Array.from(input.files || []);
      if (files.length === 0) return;
      const total = files.reduce((sum, file) => sum + file.size, 0) || 1;
      let done = 0;
      button.disabled = true;
      input.disabled = true;
      progress.hidden = false;
      bar.style.width = "0%";
      try {
        for (const file of files) {
          if (file.size > MAX_SINGLE_PUT) {
            showError(status, `${file.name}: larger than 5 GB, the most one S3 PUT can take.`);
            return;
          }
          showText(status, `Uploading ${file.name}…`);
          const signed = await postForm(root.getAttribute("data-sign-url"), {
            csrf, prefix, name: file.name, type: file.type || "",
          });
          if (!signed.ok) {
            showError(status, `${file.name}: ${signed.data.error || "refused"}`);
            return;
          }
          const answer = await putFile(signed.data.url, file, signed.data.headers, (loaded) => {
            bar.style.width = `${Math.min(100, ((done + loaded) / total) * 100).toFixed(1)}%`;
          });
          if (answer.status < 200 || answer.status >= 300) {
            const error = s3Error(answer.status, answer.text);
            const explained = await postForm(root.getAttribute("data-explain-url"), {
              csrf, code: error.code, message: error.message,
            });
            status.classList.remove("ok");
            // The console rendered it (escaped) with the same macro as every page's errors.
            status.innerHTML = explained.data.html;
            return;
          }
          done += file.size;
          bar.style.width = `${Math.min(100, (done / total) * 100).toFixed(1)}%`;
        }
        const label = files.length === 1 ? files[0].name : `${files.length} files`;
        showText(status, `${label}: Uploaded`, true);
        input.value = "";
        await reloadListing(root);
      } catch (error) {
        showError(status, error instanceof Error ? error.message : String(error));
      } finally {
        input.disabled = false;
        refresh();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const root of document.querySelectorAll("[data-upload]")) setup(root);
  });
})();
