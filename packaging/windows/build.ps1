# Windows build recipe (NOT built or tested by the project yet; only the Linux bundle is):
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1
# -> dist\usannotator-VERSION-windows-x86_64.zip (the one-folder bundle) and, when Inno Setup 6 is
#    installed (iscc.exe on PATH or in its default folder), dist\usannotator-VERSION-windows-x86_64-setup.exe
# Needs the project's environment in .venv (see packaging\windows\README.md), or $env:PYTHON.
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")

$py = if ($env:PYTHON) { $env:PYTHON } else { ".venv\Scripts\python.exe" }
if (-not (Test-Path $py)) { throw "no ${py}: create .venv first (packaging\windows\README.md)" }
$version = (Select-String -Path pyproject.toml -Pattern '^version\s*=\s*"(.+)"').Matches[0].Groups[1].Value
$name = "usannotator-$version-windows-x86_64"

& $py -m pip install -q -r packaging\requirements.txt
if ($LASTEXITCODE) { throw "pip failed" }
$env:QT_QPA_PLATFORM = "offscreen"
& $py packaging\make_icons.py build\icons
if ($LASTEXITCODE) { throw "make_icons failed" }
Remove-Item Env:QT_QPA_PLATFORM

Remove-Item -Recurse -Force build\bundle -ErrorAction SilentlyContinue
& $py -m PyInstaller --noconfirm --clean --log-level WARN `
    --distpath build\bundle\dist --workpath build\bundle\work packaging\usannotator.spec
if ($LASTEXITCODE) { throw "PyInstaller failed" }

New-Item -ItemType Directory -Force dist | Out-Null
Copy-Item build\icons\usannotator.ico build\bundle\dist\usannotator\
Remove-Item -Force "dist\$name.zip" -ErrorAction SilentlyContinue
Compress-Archive -Path build\bundle\dist\usannotator -DestinationPath "dist\$name.zip"
Write-Host "build: dist\$name.zip"

$iscc = Get-Command iscc.exe -ErrorAction SilentlyContinue
$isccPath = if ($iscc) { $iscc.Source } else { "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
if (Test-Path $isccPath) {
    & $isccPath /Q "/DAppVersion=$version" packaging\windows\usannotator.iss
    if ($LASTEXITCODE) { throw "Inno Setup failed" }
    Write-Host "build: dist\$name-setup.exe"
} else {
    Write-Host "build: Inno Setup 6 not found; skipped the installer (the .zip is complete)"
}
